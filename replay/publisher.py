"""Publishes replayed records to a namespace's input topics, partition for partition."""

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial

from confluent_kafka import KafkaException, Producer

from local_stack.exceptions import StackError
from local_stack.topics import ensure_topics, set_topic_config
from plumbing.kafka_security import kafka_client_config, kafka_security
from replay.exceptions import ReplayError
from replay.retry import retry_transient
from schemas.topics import COPY_TARGET_CONFIG, INPUT_TOPICS, TopicSpec

__all__ = [
    "NamespacePublisher",
    "copied_records_kept",
    "keep_copied_records",
    "prepare_namespace_topics",
]


def prepare_namespace_topics(
    bootstrap_servers: str, namespace: str, specs: Iterable[TopicSpec] = INPUT_TOPICS
) -> list[TopicSpec]:
    """Create the namespace's copies of `specs`; refuse when one already holds data.

    A replay target must start empty, or the replayed outputs would mix with an older run. It
    keeps each record's timestamp as published (the broker's append time of the original), and
    nothing in it expires until `keep_copied_records` sets its retention: the live input topics
    stamp records on arrival, so an empty target that a worker created first is switched too.
    """
    if not namespace:
        raise ReplayError("a replay needs a target namespace (e.g. --target replay-2026-11-26)")
    targets = [spec.in_namespace(namespace).keeping_timestamps() for spec in specs]
    try:
        # The replicas of every other topic of the cluster (local_stack.replication).
        created = set(ensure_topics(bootstrap_servers, targets))
        existing = [s for s in targets if s.name not in created]
        _refuse_non_empty(bootstrap_servers, existing)
        set_topic_config(bootstrap_servers, [s.name for s in existing], COPY_TARGET_CONFIG)
    except (KafkaException, StackError) as exc:
        raise ReplayError(f"could not create the topics of namespace {namespace}: {exc}") from exc
    return targets


def keep_copied_records(
    bootstrap_servers: str, targets: Iterable[TopicSpec], oldest_ms: int | None
) -> None:
    """Give the targets their topic's retention, counted from now for the oldest copied record.

    Kafka's retention counts from record timestamps; a backfill of records older than the
    retention, kept with their original stamps, would otherwise be deleted at once.
    """
    now_ms = int(time.time() * 1000)
    names_by_config: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
    for spec in targets:
        config = spec.retention_counted_from(oldest_ms or now_ms, now_ms)
        names_by_config[tuple(config.items())].append(spec.name)
    try:
        for config_items, names in names_by_config.items():
            set_topic_config(bootstrap_servers, names, dict(config_items))
    except (KafkaException, StackError) as exc:
        raise ReplayError(f"could not set the retention of the replayed topics: {exc}") from exc


@contextmanager
def copied_records_kept(
    bootstrap_servers: str, targets: Iterable[TopicSpec], publisher: "NamespacePublisher"
) -> Iterator[None]:
    """Set the targets' retention (`keep_copied_records`) when the copy ends, however it ends.

    A target keeps its records forever until then (`prepare_namespace_topics`): a copy stopped
    half-way (Ctrl-C, a timeout, a broker that went away) left the records copied so far in
    Kafka with no retention at all, an erased user's among them. If setting the retention
    fails too, the copy's own error is raised, with a note saying so.
    """
    targets = list(targets)
    try:
        yield
    except BaseException as exc:
        try:
            keep_copied_records(bootstrap_servers, targets, publisher.oldest_timestamp_ms)
        except ReplayError as failed:
            exc.add_note(f"the target topics still keep their records forever: {failed}")
        raise
    keep_copied_records(bootstrap_servers, targets, publisher.oldest_timestamp_ms)


def _refuse_non_empty(bootstrap_servers: str, specs: list[TopicSpec]) -> None:
    if not specs:
        return
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(kafka_client_config(bootstrap_servers, {"group.id": "replay-inspect"}))
    try:
        for spec in specs:
            for partition in range(spec.partitions):
                tp = TopicPartition(spec.name, partition)
                low, high = retry_transient(partial(consumer.get_watermark_offsets, tp, 30))
                if high > low:
                    raise ReplayError(
                        f"target topic {spec.name} already holds records; choose a new --target "
                        "namespace (replays never write into a used one)"
                    )
    finally:
        consumer.close()


class NamespacePublisher:
    """An idempotent producer that keeps each record's partition, key and timestamp."""

    def __init__(self, bootstrap_servers: str, max_message_bytes: int) -> None:
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "message.max.bytes": max_message_bytes,
            }
        )
        self.failures: list[str] = []
        self.oldest_timestamp_ms: int | None = None  # of the records published with a timestamp

    def publish(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, timestamp_ms: int
    ) -> None:
        if timestamp_ms > 0 and (
            self.oldest_timestamp_ms is None or timestamp_ms < self.oldest_timestamp_ms
        ):
            self.oldest_timestamp_ms = timestamp_ms
        while True:
            try:
                self.producer.produce(
                    topic,
                    value=value,
                    key=key,
                    partition=partition,
                    timestamp=timestamp_ms,
                    on_delivery=self._on_delivery,
                )
                return
            except BufferError:
                self.producer.poll(0.1)

    def _on_delivery(self, error: object, _message: object) -> None:
        if error is not None:
            self.failures.append(str(error))

    def poll(self) -> None:
        self.producer.poll(0)

    def flush(self, timeout_s: float) -> None:
        """Wait for every record; raise if any was not delivered (nothing may be lost silently)."""
        remaining = self.producer.flush(timeout_s)
        if remaining or self.failures:
            raise ReplayError(
                f"{remaining} records undelivered and {len(self.failures)} failed "
                f"(first: {self.failures[:1]}); the target namespace is incomplete: replay again "
                "into a new namespace"
            )
