"""Kafka helpers for the dashboard's integration and browser tests (importing needs no broker)."""

import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.serializer import serializer_for
from schemas.topics import ALERTS, DEADLETTER, METRICS, RELEASE_IMPACT, TopicSpec
from tests.ports import free_port

__all__ = [
    "DASHBOARD_TOPICS",
    "free_port",
    "namespace_topics",
    "produce",
    "read_topic",
    "two_hours_ago_ms",
]

DASHBOARD_TOPICS = (METRICS, DEADLETTER, ALERTS, RELEASE_IMPACT)


@contextlib.contextmanager
def namespace_topics(bootstrap_servers: str) -> Iterator[str]:
    """A fresh namespace whose metrics, dead-letter, alert and release-impact topics exist;
    deleted afterwards."""
    namespace = f"test-dash-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    specs = [spec.in_namespace(namespace) for spec in DASHBOARD_TOPICS]
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, 1, config=s.kafka_config()) for s in specs]
    )
    for future in futures.values():
        future.result(timeout=30)
    try:
        yield namespace
    finally:
        for future in admin.delete_topics([s.name for s in specs], operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def produce(
    bootstrap_servers: str,
    spec: TopicSpec,
    records: Iterable[Mapping[str, Any]],
    timestamp_ms: int | None = None,
    raw: Iterable[bytes] = (),
) -> int:
    """Encode and produce records (plus `raw` values as they are); returns how many were sent."""
    serializer = serializer_for(spec)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 5})
    extra = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
    sent = 0
    for record in records:
        key = f"{record.get('agent_id')}/{record.get('agent_version')}".encode()
        producer.produce(spec.name, value=serializer.encode(record), key=key, **extra)
        sent += 1
    for value in raw:
        producer.produce(spec.name, value=value, **extra)
        sent += 1
    assert producer.flush(30) == 0, "messages left undelivered after 30 s"
    return sent


def two_hours_ago_ms() -> int:
    """A Kafka timestamp before the dashboard's one-hour time seek but inside topic retention.

    (Stamping with the records' event time, in 2026-01, would let retention delete them at once.)
    """
    return int(time.time() * 1000) - 2 * 3600 * 1000


def read_topic(bootstrap_servers: str, spec: TopicSpec, timeout_s: float = 30.0) -> list[dict]:
    """Every decodable record of a topic, from its start to its current end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    serializer = serializer_for(spec)
    try:
        partitions = consumer.list_topics(spec.name, timeout=10).topics[spec.name].partitions
        ends = {}
        for p in partitions:
            low, high = _watermarks(consumer, TopicPartition(spec.name, p))
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(spec.name, p, 0) for p in ends])
        records: list[dict] = []
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=0.5):
                if message.error():
                    continue
                with contextlib.suppress(Exception):
                    records.append(serializer.decode(message.value()))
                if message.offset() + 1 >= ends.get(message.partition(), 0):
                    ends.pop(message.partition(), None)
        assert not ends, f"did not reach the end of {spec.name} in {timeout_s} s"
        return records
    finally:
        consumer.close()


def _watermarks(consumer: Consumer, tp: TopicPartition, timeout_s: float = 15.0) -> tuple[int, int]:
    """A partition's low and high offsets, asked again while the broker answers with a retriable
    error (e.g. NOT_LEADER_FOR_PARTITION just after a topic was created on a fresh broker)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0]
            passing = error.retriable() or error.code() in _PASSING_ERRORS
            if not passing or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_PASSING_ERRORS = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
}
