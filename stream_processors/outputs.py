"""Producing the processor's outputs with confluent-kafka, and waiting until Kafka has them.

Outputs are produced before the input offsets they come from are checkpointed; `wait` returns
only once every queued record is acknowledged (acks=all, idempotent producer), and raises
otherwise, so nothing is checkpointed that Kafka did not get. Not acknowledged *yet* (the broker
is unreachable) is a different error from *failed* (`OutputsUnacknowledgedError`): the records
stay queued, librdkafka keeps sending them, and the caller may simply wait again.
"""

import asyncio
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from plumbing.kafka_security import kafka_security
from schemas.partitioning import PARTITIONER
from schemas.serializer import content_type_headers
from stream_processors.exceptions import OutputDeliveryError, OutputsUnacknowledgedError

__all__ = ["OutputProducer"]


class OutputProducer:
    """A confluent-kafka producer that remembers delivery failures until `wait`."""

    def __init__(self, bootstrap_servers: str, extra: dict[str, Any] | None = None) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "partitioner": PARTITIONER,  # keyed as Java would (consumers may join on it)
                "batch.num.messages": 10000,
                # Failures only: a Python callback per acknowledged output cost ~2% of a worker.
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
                "queue.buffering.max.messages": 1_000_000,
                "message.max.bytes": 4 * 1024 * 1024,
                **(extra or {}),
            }
        )
        self._errors: list[str] = []
        self.sent = 0

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=content_type_headers(value))
                break
            except BufferError:
                self._producer.poll(0.05)
        self.sent += 1

    async def wait(self, timeout_s: float = 30.0) -> None:
        """Until every queued output is acknowledged. Raises OutputsUnacknowledgedError after
        `timeout_s` (nothing lost: call again), OutputDeliveryError for outputs that failed."""
        deadline = time.monotonic() + timeout_s
        while self._producer.flush(0) > 0:
            if time.monotonic() > deadline:
                raise OutputsUnacknowledgedError(
                    f"{len(self._producer)} outputs not acknowledged after {timeout_s} s"
                )
            await asyncio.sleep(0.002)
        if self._errors:
            errors, self._errors = self._errors, []
            raise OutputDeliveryError(f"{len(errors)} outputs failed, first: {errors[0]}")

    def close(self) -> None:
        self._producer.flush(10)
