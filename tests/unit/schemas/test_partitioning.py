"""The partition of a keyed record is Kafka's Java default (docs/producer.md, Partitioning)."""

import pytest

from producers.client import producer_config
from producers.settings import ProducerSettings
from schemas.partitioning import PARTITIONER, murmur2, partition_for

# Computed with Kafka 4.1.1's own `org.apache.kafka.common.utils.Utils.murmur2` and
# `toPositive(hash) % n` (its default partitioner for keyed records), keys in UTF-8.
KAFKA_VECTORS = [
    ("", 275646681, 1, 9),
    ("a", -1563381124, 0, 4),
    ("21", -973932308, 0, 0),
    ("foobar", -790332482, 2, 6),
    ("s-1", -1298194753, 3, 7),
    ("session-42", 880271230, 2, 10),
    ("live-0f3c2a9b", -1071801365, 3, 3),
    ("ünïcödé-séssion", -1176149145, 3, 11),
    ("a-much-longer-session-identifier-with-more-than-forty-bytes-in-it", 1854775455, 3, 3),
]


@pytest.mark.parametrize(("key", "hashed", "of_4", "of_12"), KAFKA_VECTORS)
def test_the_hash_and_the_partition_are_kafkas(
    key: str, hashed: int, of_4: int, of_12: int
) -> None:
    data = key.encode()
    assert murmur2(data) == hashed
    assert partition_for(data, 4) == of_4
    assert partition_for(data, 12) == of_12


def test_the_sdk_partitions_as_java_does() -> None:
    """librdkafka's default (`consistent_random`, CRC-32) puts a key elsewhere than Java."""
    config = producer_config(ProducerSettings(bootstrap_servers="127.0.0.1:1"))
    assert config["partitioner"] == PARTITIONER == "murmur2_random"
    # A setting of the agent's still wins (e.g. keeping the old mapping while topics drain).
    custom = ProducerSettings(
        bootstrap_servers="127.0.0.1:1", kafka_config={"partitioner": "consistent_random"}
    )
    assert producer_config(custom)["partitioner"] == "consistent_random"
