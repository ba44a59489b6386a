"""Retries broker calls that fail for a moment after a topic is created (no leader yet)."""

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

__all__ = ["retry_transient"]

T = TypeVar("T")

# Seen right after CreateTopics, before the controller has elected the new partitions' leaders.
_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def retry_transient(call: Callable[[], T], timeout_s: float = 30.0) -> T:
    """Run `call`, retrying retriable Kafka errors (e.g. NOT_LEADER_FOR_PARTITION) until timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            transient = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _TRANSIENT
            )
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
