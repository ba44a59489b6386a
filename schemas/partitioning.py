"""Which partition a keyed record goes to: Kafka's default, the key's murmur2 hash.

The processor joins a session's interactions, feedback and signals on one partition number of
the three input topics (co-partitioned, keyed by session id). That holds only if every producer
of a session's events maps its key to the same partition. Kafka's Java producer (and Kafka
Streams, Connect, kafka-python, franz-go) hash the key with murmur2; librdkafka's default,
`consistent_random`, hashes it with CRC-32. With the librdkafka default, a Java agent's turns
and the feedback its users send through the gateway went to different partitions, and the
feedback never met its session (dead-lettered `too_late`). So every producer of this project
sets `PARTITIONER`, librdkafka's Java-compatible murmur2, and a producer in another language
keeps its client's Java-compatible default (docs/producer.md, "Partitioning").

`partition_for` is the same function in Python, for the processor's placement check and for
tests that need a key on a given partition. Hand-written because no maintained library offers
it alone (kafka-python, a whole Kafka client, has one); checked against Kafka's own
`Utils.murmur2` in tests/unit/schemas/test_partitioning.py.
"""

__all__ = ["PARTITIONER", "murmur2", "partition_for"]

# librdkafka's name for Java's default partitioning of keyed records ("murmur2_random": a
# record without a key goes to a random partition, as Java's sticky partitioner's would).
PARTITIONER = "murmur2_random"

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`: MurmurHash2 (32 bits, its seed), as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java producer (and librdkafka's `murmur2_random`) picks for a
    record with this key: `toPositive(murmur2(key)) % partitions`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
