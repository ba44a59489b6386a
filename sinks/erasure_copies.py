"""Where an erased user's messages remain outside the lake, and until when.

Kafka keeps every message until its topic's retention ends, whatever the lake deletes. For each
topic that held one of the user's rows, the last of them (by Kafka timestamp, the time retention
counts from) plus the topic's `retention_ms` in the registry (`schemas.topics`) is the earliest
moment the copy can be gone. Kafka deletes whole segments, so the bytes may outlive it by up to
the segment's roll time (`segment.ms`); a topic configured with another retention than the
registry's keeps its own.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from schemas.topics import topic_by_name

__all__ = ["KafkaCopy", "kafka_copies", "last_message_by_topic"]


@dataclass(frozen=True)
class KafkaCopy:
    """A topic that still holds the user's messages; `retained_until` None: not in the registry."""

    topic: str
    last_message_at: datetime
    retained_until: datetime | None

    def as_row(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "last_message_at": self.last_message_at,
            "retained_until": self.retained_until,
        }


def last_message_by_topic(rows: pa.Table) -> dict[str, datetime]:
    """The latest `kafka_timestamp` per `kafka_topic` among selected rows."""
    if rows.num_rows == 0:
        return {}
    grouped = rows.group_by("kafka_topic").aggregate([("kafka_timestamp", "max")])
    latest: dict[str, datetime] = {}
    for topic, when in zip(
        grouped["kafka_topic"].to_pylist(), grouped["kafka_timestamp_max"].to_pylist(), strict=True
    ):
        if topic is not None and when is not None:
            latest[topic] = when if when.tzinfo else when.replace(tzinfo=UTC)
    return latest


def kafka_copies(latest: Iterable[Mapping[str, datetime]]) -> list[KafkaCopy]:
    """One copy per topic (latest message over all tables), in topic order."""
    merged: dict[str, datetime] = {}
    for by_topic in latest:
        for topic, when in by_topic.items():
            merged[topic] = max(when, merged.get(topic, when))
    return [
        KafkaCopy(topic, when, _retained_until(topic, when))
        for topic, when in sorted(merged.items())
    ]


def _retained_until(topic: str, last: datetime) -> datetime | None:
    try:
        retention_ms = topic_by_name(topic).retention_ms
    except KeyError:
        return None
    return last + timedelta(milliseconds=retention_ms)
