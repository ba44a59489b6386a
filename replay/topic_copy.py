"""Copies a time or offset range of the input topics into a replay namespace, order preserved.

Messages of users in the erasure ledger are not copied (`replay.ledger`): Kafka still holds
them until retention, the replay must not bring them back.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from plumbing.kafka_security import kafka_security
from replay.exceptions import ReplayError
from replay.ledger import erased_messages
from replay.offsets import PartitionRange, resolve_ranges
from replay.publisher import NamespacePublisher, copied_records_kept, prepare_namespace_topics
from replay.settings import ReplaySettings
from schemas.erased_messages import ErasedMessages
from schemas.topics import INPUT_TOPICS

__all__ = ["CopyResult", "copy_input_range"]

Progress = Callable[[int, int], None]  # (records done, records total)


@dataclass(frozen=True)
class CopyResult:
    namespace: str
    records: int
    seconds: float
    ranges: list[PartitionRange]
    skipped_erased: int = 0  # messages of erased users or sessions, not copied
    erasures: int = 0  # ledger entries the copy obeyed

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def copy_input_range(
    settings: ReplaySettings,
    target: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    source_namespace: str | None = None,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy records with start_ms <= Kafka timestamp < end_ms of every input topic to `target`.

    Each record keeps its partition number, key, value and timestamp, so every session's events
    stay in their original order and land on the partition the processor expects. Records of
    erased users (the ledgers of `settings.lake_uri` and of the source namespace) are skipped.
    """
    started = time.monotonic()
    erased = erased_messages(settings.lake_uri, f"{source_namespace}/" if source_namespace else "")
    targets = prepare_namespace_topics(settings.bootstrap_servers, target)
    sources = [spec.in_namespace(source_namespace) for spec in INPUT_TOPICS]
    target_of = {src.name: dst.name for src, dst in zip(sources, targets, strict=True)}
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
            "group.id": f"replay-copy-{target}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "fetch.message.max.bytes": settings.max_message_bytes,
        }
    )
    publisher = NamespacePublisher(settings.bootstrap_servers, settings.max_message_bytes)
    try:
        with copied_records_kept(settings.bootstrap_servers, targets, publisher):
            ranges = [
                r for s in sources for r in resolve_ranges(consumer, s.name, start_ms, end_ms)
            ]
            total = sum(r.size for r in ranges)
            done = _copy(consumer, publisher, ranges, target_of, settings, total, erased, progress)
            publisher.flush(settings.timeout_s)
    finally:
        consumer.close()
    return CopyResult(
        target, done, time.monotonic() - started, ranges, erased.skipped, len(erased.identities)
    )


def _copy(
    consumer: Consumer,
    publisher: NamespacePublisher,
    ranges: list[PartitionRange],
    target_of: dict[str, str],
    settings: ReplaySettings,
    total: int,
    erased: ErasedMessages,
    progress: Progress | None,
) -> int:
    open_ranges = {(r.topic, r.partition): r for r in ranges if r.size > 0}
    consumer.assign([TopicPartition(r.topic, r.partition, r.start) for r in open_ranges.values()])
    done = 0
    deadline = time.monotonic() + settings.timeout_s
    while open_ranges:
        if time.monotonic() > deadline:
            raise ReplayError(
                f"replay copy timed out after {settings.timeout_s:.0f}s at "
                f"{done + erased.skipped}/{total}"
            )
        for message in consumer.consume(num_messages=settings.batch_size, timeout=1.0):
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if message.error() is not None or topic is None or partition is None or offset is None:
                raise ReplayError(f"reading {topic}: {message.error()}")
            key = (topic, partition)
            current = open_ranges.get(key)
            if current is None or offset >= current.end:
                _close(consumer, open_ranges, key)
                continue
            if not erased.erased(message.key(), message.value()):
                publisher.publish(
                    target_of[topic],
                    partition,
                    message.key(),
                    message.value(),
                    message.timestamp()[1],
                )
                done += 1
            if offset + 1 >= current.end:
                _close(consumer, open_ranges, key)
        publisher.poll()
        if progress is not None:
            progress(done + erased.skipped, total)
    return done


def _close(
    consumer: Consumer, open_ranges: dict[tuple[str, int], PartitionRange], key: tuple[str, int]
) -> None:
    if open_ranges.pop(key, None) is not None:
        consumer.pause([TopicPartition(key[0], key[1])])
