"""Publishing curation's records (DatasetReady, ReleaseImpact) to their topics, and reading
them back: one small producer that waits until the broker has every record.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Producer

from curation.exceptions import CurationError
from plumbing.kafka_security import kafka_client_config
from schemas.partitioning import PARTITIONER
from schemas.serializer import serializer_for
from schemas.topics import TopicSpec

__all__ = ["RecordPublisher"]


class RecordPublisher:
    """Produces records of one topic's value schema, idempotently, and flushes per call."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: TopicSpec,
        key_of: Callable[[Mapping[str, Any]], bytes],
    ) -> None:
        self.topic = topic
        self.key_of = key_of
        self.serializer = serializer_for(topic)
        self.producer = Producer(
            kafka_client_config(
                bootstrap_servers,
                {"enable.idempotence": True, "linger.ms": 5, "partitioner": PARTITIONER},
            )
        )

    def publish(self, records: Iterable[Mapping[str, Any]], timeout_s: float = 30.0) -> int:
        """Send the records and wait for the broker's acknowledgement of each; raise if any
        is not acknowledged within `timeout_s`."""
        errors: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                errors.append(str(error))

        count = 0
        for record in records:
            self.producer.produce(
                self.topic.name,
                key=self.key_of(record),
                value=self.serializer.encode(record),
                on_delivery=delivered,
            )
            count += 1
        remaining = self.producer.flush(timeout_s)
        if errors or remaining:
            raise CurationError(
                f"could not publish {len(errors) + remaining} record(s) to {self.topic.name}: "
                f"{errors[:3] or 'timed out'}; is Kafka up (feedbackctl stack status)?"
            )
        return count
