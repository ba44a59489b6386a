"""Reads a namespace's output topics to the end and compares two namespaces' results."""

import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from plumbing.kafka_security import kafka_security
from replay.offsets import resolve_ranges
from schemas.serializer import serializer_for
from schemas.topics import ENRICHED, METRICS, TopicSpec

__all__ = [
    "MetricDifference",
    "diff_final_metrics",
    "enriched_records",
    "final_metrics",
    "read_topic",
]

MetricKey = tuple[str, str, int]  # agent_id, agent_version, window_start
_IDENTITY = {"agent_id", "agent_version", "window_start", "window_end", "is_final", "update_seq"}


def read_topic(
    bootstrap_servers: str, spec: TopicSpec, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Every record of `spec` from the beginning to the current end, decoded, in partition order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
            "group.id": f"replay-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    serializer = serializer_for(spec)
    records: list[dict[str, Any]] = []
    try:
        ranges = {
            (r.topic, r.partition): r for r in resolve_ranges(consumer, spec.name, None, None)
        }
        pending = {key for key, r in ranges.items() if r.size > 0}
        consumer.assign([TopicPartition(r.topic, r.partition, r.start) for r in ranges.values()])
        empty_polls = 0
        while pending and empty_polls < timeout_s:
            batch = consumer.consume(num_messages=5000, timeout=1.0)
            empty_polls = 0 if batch else empty_polls + 1
            for message in batch:
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                assert topic is not None and partition is not None and offset is not None
                records.append(serializer.decode(value))
                if offset + 1 >= ranges[(topic, partition)].end:
                    pending.discard((topic, partition))
    finally:
        consumer.close()
    return records


def enriched_records(bootstrap_servers: str, namespace: str | None) -> dict[tuple[str, int], dict]:
    """Enriched records by natural key (event_id, revision); re-emitted duplicates collapse."""
    return {
        (record["event_id"], record["revision"]): record
        for record in read_topic(bootstrap_servers, ENRICHED.in_namespace(namespace))
    }


def final_metrics(bootstrap_servers: str, namespace: str | None) -> dict[MetricKey, dict]:
    """The final metric record of every (agent_id, agent_version, window_start)."""
    finals: dict[MetricKey, dict] = {}
    for record in read_topic(bootstrap_servers, METRICS.in_namespace(namespace)):
        if record["is_final"]:
            finals[(record["agent_id"], record["agent_version"], record["window_start"])] = record
    return finals


@dataclass(frozen=True)
class MetricDifference:
    key: MetricKey
    metric: str
    left: Any
    right: Any


def diff_final_metrics(
    left: dict[MetricKey, dict], right: dict[MetricKey, dict], tolerance: float = 1e-9
) -> list[MetricDifference]:
    """Every metric that differs between two namespaces' final windows (missing windows too)."""
    differences = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a is None or b is None:
            differences.append(MetricDifference(key, "window", a is not None, b is not None))
            continue
        for metric in sorted(set(a) - _IDENTITY):
            if not _equal(a[metric], b[metric], tolerance):
                differences.append(MetricDifference(key, metric, a[metric], b[metric]))
    return differences


def _equal(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))
    return a == b
