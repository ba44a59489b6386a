"""Turns a time range into per-partition offset ranges with the broker's own time index."""

from dataclasses import dataclass
from functools import partial

from confluent_kafka import Consumer, TopicPartition

from replay.retry import retry_transient

__all__ = ["PartitionRange", "resolve_ranges"]


@dataclass(frozen=True)
class PartitionRange:
    """Offsets [start, end) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def resolve_ranges(
    consumer: Consumer,
    topic: str,
    start_ms: int | None,
    end_ms: int | None,
    timeout_s: float = 30.0,
) -> list[PartitionRange]:
    """Offset range of every partition of `topic` whose records have start_ms <= timestamp < end_ms.

    A missing bound means the beginning (log start) or the current end (high watermark).
    """
    metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
    if metadata.error is not None:
        raise KeyError(f"topic {topic} is not readable: {metadata.error}")
    ranges = []
    for partition in sorted(metadata.partitions):
        tp = TopicPartition(topic, partition)
        low, high = retry_transient(partial(consumer.get_watermark_offsets, tp, timeout_s))
        start = _offset_at(consumer, topic, partition, start_ms, low, high, timeout_s)
        end = _offset_at(consumer, topic, partition, end_ms, high, high, timeout_s)
        ranges.append(PartitionRange(topic, partition, start, max(start, end)))
    return ranges


def _offset_at(
    consumer: Consumer,
    topic: str,
    partition: int,
    time_ms: int | None,
    default: int,
    high: int,
    timeout_s: float,
) -> int:
    if time_ms is None:
        return default
    found = consumer.offsets_for_times([TopicPartition(topic, partition, time_ms)], timeout_s)[0]
    # -1: no record at or after time_ms, so the range ends (or starts) at the current end.
    return high if found.offset < 0 else found.offset
