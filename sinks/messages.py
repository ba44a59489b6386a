"""The slice of a Kafka message the sink uses, so converters can be tested without a broker."""

from typing import Protocol

__all__ = ["KafkaMessage", "kafka_timestamp_ms"]


class KafkaMessage(Protocol):
    """What `confluent_kafka.Message` offers and the converters read."""

    def value(self) -> bytes | None: ...

    def key(self) -> bytes | None: ...

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...

    def timestamp(self) -> tuple[int, int]: ...


def kafka_timestamp_ms(message: KafkaMessage) -> int | None:
    """The message's timestamp in epoch ms, None when the broker gave none."""
    kind, value = message.timestamp()
    return value if kind and value >= 0 else None
