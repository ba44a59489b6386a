"""Helpers of the processor's integration tests (no tests here): traffic in, worker, outputs out."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from local_stack.topics import ensure_topics
from producers.traffic import Traffic, TrafficConfig, generate_traffic
from schemas.serializer import serializer_for
from schemas.topics import DEADLETTER, ENRICHED, METRICS, TOPICS, TopicSpec
from stream_processors.settings import ProcessorSettings

ROOT = Path(__file__).resolve().parents[2]

# Small timings so a whole run takes under a minute; the generator gets the same rules.
WORKER_ENV = {
    "FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "35",
    "FEEDBACK_PROCESSOR_FEEDBACK_GRACE_S": "120",
    "FEEDBACK_PROCESSOR_ALLOWED_LATENESS_MS": "500",
    "FEEDBACK_PROCESSOR_IDLE_TIMEOUT_S": "1",
    "FEEDBACK_PROCESSOR_METRICS_WINDOW_S": "10",
    "FEEDBACK_PROCESSOR_SESSION_TIMEOUT_S": "6",
    "FEEDBACK_PROCESSOR_MAX_VALUE_BYTES": "300000",
}


def traffic_config(sessions: int = 60, seed: int = 11, **overrides: Any) -> TrafficConfig:
    values: dict[str, Any] = {
        "sessions": sessions,
        "seed": seed,
        "abandon_after_s": 35,
        "max_turn_gap_s": 4,
        "feedback_grace_s": 120,
        "max_feedback_delay_s": 60,
        "feedback_share": 0.6,
        "duplicate_share": 0.03,
        "bad_record_share": 0.03,
        "too_late_share": 0.05,
        "oversized_bytes": 400_000,
    }
    values.update(overrides)
    return TrafficConfig(**values)


@dataclass
class Produced:
    """What went into a namespace and what the generator says should come out."""

    traffic: Traffic
    last_event_time: int = 0
    messages: int = 0

    @property
    def truth(self) -> Any:
        return self.traffic.truth

    @property
    def settle_time(self) -> int:
        """Event time by which every session has closed and every event was seen."""
        last_close = max(s.closed_at_ms for s in self.truth.sessions.values())
        return max(self.last_event_time, last_close)


@dataclass
class Namespace:
    """Topics, consumer group and Redis keys of one processor run, removed afterwards."""

    bootstrap: str
    redis_url: str
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")

    def topic(self, spec: TopicSpec) -> str:
        return spec.in_namespace(self.name).name

    @property
    def settings(self) -> ProcessorSettings:
        return ProcessorSettings(
            namespace=self.name, bootstrap_servers=self.bootstrap, redis_url=self.redis_url
        )

    def create(self) -> None:
        ensure_topics(self.bootstrap, [spec.in_namespace(self.name) for spec in TOPICS])

    def produce(self, config: TrafficConfig) -> Produced:
        traffic = generate_traffic(config)
        produced = Produced(traffic)
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": 5, "message.max.bytes": 2_000_000}
        )
        for event in traffic.events():
            producer.produce(self.topic(event.topic), event.value(), event.key)
            produced.messages += 1
            if event.bad_reason is None:
                produced.last_event_time = max(produced.last_event_time, event.event_time)
            if produced.messages % 500 == 0:
                producer.poll(0)
        assert producer.flush(30) == 0
        return produced

    def finalized_until(self) -> int | None:
        """How far the metrics finalizer got (read from its state in Redis)."""
        settings = self.settings
        client = redis.Redis.from_url(self.redis_url)
        raw = client.hget(f"{settings.redis_prefix}:t:progress:0", b"0/finalizer")
        return orjson.loads(raw).get("finalized_until") if raw else None

    def cleanup(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [t for t in admin.list_topics(timeout=10).topics if self.name in t]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=30)
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.settings.redis_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


class Worker:
    """A processor worker (`python -m stream_processors`) in a subprocess."""

    def __init__(
        self, namespace: Namespace, log_path: Path, env_overrides: dict[str, str] | None = None
    ) -> None:
        env = {
            **os.environ,
            **WORKER_ENV,
            **(env_overrides or {}),
            "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": namespace.bootstrap,
            "FEEDBACK_PROCESSOR_REDIS_URL": namespace.redis_url,
        }
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stream_processors", "--namespace", namespace.name,
             "--loglevel", "info"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()

    def alive(self) -> bool:
        return self.process.poll() is None


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message currently in a topic (all partitions, from the beginning)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
         "enable.auto.commit": False}
    )  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        ends, start = {}, []
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            if high > low:
                ends[partition] = high
                start.append(TopicPartition(topic, partition, low))
        if not start:
            return []
        consumer.assign(start)
        messages, remaining = [], set(ends)
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1):
                if message.error():
                    continue
                messages.append(message)
                if message.offset() >= ends[message.partition()] - 1:
                    remaining.discard(message.partition())
        return messages
    finally:
        consumer.close()


@dataclass
class Outputs:
    """The processor's outputs in a namespace, decoded, with their raw bytes."""

    enriched: list[tuple[dict[str, Any], bytes]]
    metrics: list[tuple[dict[str, Any], bytes]]
    dead_letters: list[dict[str, Any]]

    @classmethod
    def read(cls, namespace: Namespace) -> "Outputs":
        def decoded(spec: TopicSpec) -> list[tuple[dict[str, Any], bytes]]:
            serializer = serializer_for(spec)
            messages = read_topic(namespace.bootstrap, namespace.topic(spec))
            return [(serializer.decode(m.value()), m.value()) for m in messages]

        return cls(
            enriched=decoded(ENRICHED),
            metrics=decoded(METRICS),
            dead_letters=[record for record, _ in decoded(DEADLETTER)],
        )

    def enriched_by_key(self) -> dict[tuple[str, int], bytes]:
        """(event_id, revision) -> bytes; asserts re-emitted duplicates are byte-identical."""
        by_key: dict[tuple[str, int], bytes] = {}
        for record, raw in self.enriched:
            key = (record["event_id"], record["revision"])
            assert by_key.setdefault(key, raw) == raw, f"re-emitted {key} differs"
        return by_key

    def finals(self) -> dict[tuple[str, str, int], bytes]:
        """(agent_id, agent_version, window_start) -> final record bytes (identical if repeated)."""
        by_key: dict[tuple[str, str, int], bytes] = {}
        for record, raw in self.metrics:
            if record["is_final"]:
                key = (record["agent_id"], record["agent_version"], record["window_start"])
                assert by_key.setdefault(key, raw) == raw, f"final {key} published twice, differing"
        return by_key

    def final_records(self) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str, int], dict[str, Any]] = {}
        for record, _ in self.metrics:
            if record["is_final"]:
                seen[(record["agent_id"], record["agent_version"], record["window_start"])] = record
        return list(seen.values())


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.alive(), f"worker died; see {worker.log_path}"
        if check():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; see {worker.log_path}")


def run_to_completion(namespace: Namespace, produced: Produced, log_path: Path) -> Outputs:
    """Start a worker, wait until the finalizer passed every event, stop it, read outputs."""
    worker = Worker(namespace, log_path)
    try:
        wait_for_settled(namespace, produced, worker)
    finally:
        worker.stop()
    return Outputs.read(namespace)


def wait_for_settled(namespace: Namespace, produced: Produced, worker: Worker) -> None:
    def settled() -> bool:
        until = namespace.finalized_until()
        return until is not None and until > produced.settle_time

    wait_until(settled, 150, "every metrics window to be final", worker)
    time.sleep(1.0)  # the last finals are produced before the finalizer's state is flushed


@contextlib.contextmanager
def namespace_for(bootstrap: str, redis_url: str) -> Iterator[Namespace]:
    namespace = Namespace(bootstrap, redis_url)
    namespace.create()
    try:
        yield namespace
    finally:
        namespace.cleanup()
