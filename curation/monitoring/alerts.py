"""QualityAlert records: building them (deterministic ids), publishing them to the alerts topic
(curation's one `RecordPublisher`, keyed by agent version) and reading them back for
`feedbackctl monitor alerts`.
"""

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from curation.exceptions import CurationError
from curation.record_publisher import RecordPublisher
from plumbing.kafka_security import kafka_security
from schemas.serializer import serializer_for
from schemas.topics import ALERTS, TopicSpec

__all__ = ["AlertPublisher", "alert_key", "make_alert", "read_alerts"]


def make_alert(
    *,
    kind: str,
    severity: str,
    agent_id: str | None,
    agent_version: str | None,
    metric: str,
    value: float,
    threshold: float,
    message: str,
    window: tuple[int, int],
    subject: str = "",
    evidence: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A QualityAlert record; the id is a hash of what it is about, so a re-run repeats it.

    `window` is (start, end) in epoch ms; `subject` names what is not an agent (a rater);
    `evidence` holds the numbers the verdict rests on (counts, effect, interval, ranges).
    """
    window_start, window_end = window
    identity = "|".join(
        [
            kind,
            agent_id or "",
            agent_version or "",
            metric,
            subject,
            str(window_start),
            str(window_end),
        ]
    )
    return {
        "alert_id": hashlib.sha256(identity.encode()).hexdigest()[:32],
        "kind": kind,
        "severity": severity,
        "agent_id": agent_id,
        "agent_version": agent_version,
        "metric": metric,
        "value": float(value),
        "threshold": float(threshold),
        "message": message,
        "window_start": window_start,
        "window_end": window_end,
        "evidence": dict(evidence or {}),
    }


def alert_key(alert: Mapping[str, Any]) -> bytes:
    """The registry's key of ALERTS: agent_id/agent_version (empty parts when not about one)."""
    return f"{alert['agent_id'] or ''}/{alert['agent_version'] or ''}".encode()


class AlertPublisher(RecordPublisher):
    """Publishes alerts to the alerts topic (keyed by `alert_key`) and waits until the broker
    has them."""

    def __init__(self, bootstrap_servers: str, topic: TopicSpec = ALERTS) -> None:
        super().__init__(bootstrap_servers, topic, alert_key)


def read_alerts(
    bootstrap_servers: str, topic: TopicSpec = ALERTS, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """Every alert on the topic, oldest first, read from the beginning without a commit."""
    serializer = serializer_for(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
            "group.id": f"feedbackctl-alerts-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic.name, timeout=timeout_s)
        partitions = metadata.topics.get(topic.name)
        if partitions is None or partitions.error is not None:
            raise CurationError(f"topic {topic.name} not found; run `feedbackctl stack up`")
        assigned = [TopicPartition(topic.name, p, OFFSET_BEGINNING) for p in partitions.partitions]
        consumer.assign(assigned)
        pending = {tp.partition for tp in assigned}
        alerts: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise KafkaException(error)
            value = message.value()
            if value is not None:
                alerts.append(serializer.decode(value))
        return alerts
    finally:
        consumer.close()
