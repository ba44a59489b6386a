"""The pipeline's processes (processor workers, the Delta sink) as subprocesses of a scenario.

Each runs exactly as a user starts it (`python -m feedbackctl process|sink --namespace NS`),
configured only through FEEDBACK_* variables that point at the private stack. `kill()` is
kill -9: no shutdown hook runs.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from deltalake import DeltaTable
from redis.cluster import RedisCluster

from producers.traffic import TrafficConfig
from schemas.topics import TOPICS
from sinks.delta_writer import app_id
from sinks.lake import Lake
from sinks.routes import sink_routes
from sinks.settings import SinkSettings
from stream_processors.redis_state import RedisLayout, redis_client
from stream_processors.settings import ProcessorSettings
from tests.e2e.pipeline_harness.private_stack import PrivateStack
from tests.e2e.pipeline_harness.workload import PROCESSOR_TEST_ENV, BackgroundProducer, Produced

__all__ = ["Pipeline", "ServiceRunner"]

ROOT = Path(__file__).resolve().parents[3]
SINK_NAME = "e2e-sink"


class ServiceRunner:
    """One pipeline process; its output goes to a log file named after it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "feedbackctl", *argv],
                cwd=ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9, then reap."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (a clean stop), SIGKILL after `timeout_s`."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Pipeline:
    """Topics, Redis keys, lake and processes of one scenario (one namespace)."""

    stack: PrivateStack
    work_dir: Path
    namespace: str = field(default_factory=lambda: f"e2e{uuid.uuid4().hex[:8]}")
    processors: list[ServiceRunner] = field(default_factory=list)
    sinks: list[ServiceRunner] = field(default_factory=list)
    producers: list[BackgroundProducer] = field(default_factory=list)
    # Like a Deployment's restart policy: a processor that exits on its own is started again.
    # The processor is crash-only (it exits 70 on any failed step, e.g. Redis unreachable, and
    # resumes from its Redis checkpoint); scenarios that expect such exits turn this on.
    supervise: bool = False
    restarted: list[tuple[str, int | None]] = field(default_factory=list)
    event_time_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lake_dir = self.work_dir / "lake"
        self.log_dir = self.work_dir / "logs"
        self.spool_dir = self.work_dir / "spool"
        for folder in (self.lake_dir, self.log_dir, self.spool_dir):
            folder.mkdir(parents=True, exist_ok=True)
        from local_stack.topics import ensure_topics

        specs = [spec.in_namespace(self.namespace) for spec in TOPICS]
        ensure_topics(self.bootstrap, specs)
        self.stack.wait_partitions_created(specs)
        self.end_offsets()  # returns once every partition has a leader

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap_servers

    @property
    def lake(self) -> Lake:
        return Lake(str(self.lake_dir), f"{self.namespace}/")

    @property
    def sink_group(self) -> str:
        return SinkSettings(namespace=self.namespace, group_id=SINK_NAME).consumer_group

    def match_traffic(self, config: TrafficConfig) -> None:
        """Give the processors started from now on the generator's event-time rules."""
        self.event_time_env = {
            "FEEDBACK_PROCESSOR_ABANDON_AFTER_S": str(config.abandon_after_s),
            "FEEDBACK_PROCESSOR_FEEDBACK_GRACE_S": str(config.feedback_grace_s),
        }

    def processor_env(self) -> dict[str, str]:
        return {
            **PROCESSOR_TEST_ENV,
            **self.event_time_env,
            "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": self.bootstrap,
            "FEEDBACK_PROCESSOR_REDIS_URL": self.stack.redis_url,
            "FEEDBACK_PROCESSOR_LAKE_URI": str(self.lake_dir),
        }

    def sink_env(self) -> dict[str, str]:
        return {
            "FEEDBACK_SINK_BOOTSTRAP_SERVERS": self.bootstrap,
            "FEEDBACK_SINK_LAKE_URI": str(self.lake_dir),
            "FEEDBACK_SINK_SINK_NAME": SINK_NAME,
            "FEEDBACK_SINK_GROUP_ID": SINK_NAME,
            "FEEDBACK_SINK_FLUSH_LATENCY_S": "1.0",
            "FEEDBACK_SINK_SESSION_TIMEOUT_MS": "6000",
        }

    def start_processor(self, extra_env: dict[str, str] | None = None) -> ServiceRunner:
        number = len(self.processors) + 1
        runner = ServiceRunner(
            f"processor-{number}",
            ["process", "--namespace", self.namespace, "--no-create-topics", "--loglevel", "info"],
            {**self.processor_env(), **(extra_env or {})},
            self.log_dir / f"processor-{number}.log",
        )
        self.processors.append(runner)
        return runner

    def start_sink(self, extra_env: dict[str, str] | None = None) -> ServiceRunner:
        number = len(self.sinks) + 1
        runner = ServiceRunner(
            f"sink-{number}",
            ["sink", "--namespace", self.namespace, "--log-level", "WARNING"],
            {**self.sink_env(), **(extra_env or {})},
            self.log_dir / f"sink-{number}.log",
        )
        self.sinks.append(runner)
        return runner

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until every started processor and sink is a member of its consumer group with
        partitions assigned: production that starts now is processed as it flows."""
        processor_group = ProcessorSettings(namespace=self.namespace).group_id
        expected = {
            processor_group: sum(r.alive() for r in self.processors),
            self.sink_group: sum(r.alive() for r in self.sinks),
        }
        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        def ready() -> bool:
            futures = admin.describe_consumer_groups(list(expected), request_timeout=5)
            for group, future in futures.items():
                try:
                    description = future.result()
                except KafkaException:
                    return False
                assigned = [m for m in description.members if m.assignment.topic_partitions]
                if len(assigned) < expected[group]:
                    return False
            return True

        self.wait_until(ready, timeout_s, "the processors and the sink to join their groups")

    def running(self) -> list[ServiceRunner]:
        return [runner for runner in self.processors + self.sinks if runner.alive()]

    # -- progress ------------------------------------------------------------------------

    def finalized_until(self) -> int | None:
        """How far the metrics finalizer got (its state in Redis, partition 0's progress)."""
        settings = ProcessorSettings(namespace=self.namespace, redis_url=self.stack.redis_url)
        try:
            client = redis_client(self.stack.redis_url)  # one server or a cluster
        except redis.RedisError:
            return None
        layout = RedisLayout(settings.redis_prefix, cluster=isinstance(client, RedisCluster))
        try:
            raw = client.hget(layout.table_hash("progress", 0), b"0/finalizer")
        except redis.RedisError:
            return None
        finally:
            client.close()
        return orjson.loads(raw).get("finalized_until") if raw else None

    def wait_settled(self, produced: Produced, timeout_s: float) -> None:
        """Until the processor published the final metrics of every window of the traffic."""

        def settled() -> bool:
            until = self.finalized_until()
            return until is not None and until > produced.settle_time

        self.wait_until(settled, timeout_s, "every metrics window to be final")
        time.sleep(1.0)  # the last finals are produced before the finalizer's state is flushed

    def end_offsets(self, timeout_s: float = 30.0) -> dict[tuple[str, int], int]:
        """(topic, partition) -> high watermark, for every topic the sink reads (retried while
        the broker is electing leaders, e.g. just after topics were created or it restarted)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._end_offsets()
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _end_offsets(self) -> dict[tuple[str, int], int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "e2e-offsets"})
        ends: dict[tuple[str, int], int] = {}
        try:
            for topic in sink_routes(self.namespace):
                metadata = consumer.list_topics(topic, timeout=10).topics[topic]
                for partition in metadata.partitions:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=10
                    )
                    ends[(topic, partition)] = high
        finally:
            consumer.close()
        return ends

    def lake_behind(self) -> dict[tuple[str, int], tuple[int | None, int]]:
        """Partitions whose last offset is not yet committed in the lake: (committed, end)."""
        routes = sink_routes(self.namespace)
        behind: dict[tuple[str, int], tuple[int | None, int]] = {}
        tables: dict[str, DeltaTable | None] = {}
        for (topic, partition), end in self.end_offsets().items():
            if end == 0:
                continue
            name = routes[topic].table.name
            if name not in tables:
                tables[name] = self.lake.open(name) if self.lake.exists(name) else None
            table = tables[name]
            version = (
                None if table is None else table.transaction_version(
                    app_id(SINK_NAME, topic, partition)
                )
            )  # fmt: skip
            if version is None or version < end - 1:
                behind[(topic, partition)] = (version, end)
        return behind

    def wait_lake_caught_up(self, timeout_s: float) -> None:
        """Until the lake holds every offset of every topic (read from its Delta log)."""
        self.wait_until(lambda: not self.lake_behind(), timeout_s, "the lake to catch up")

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `check` every second; fail when it stays false or every process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            if self.supervise:
                self.restart_exited_processors()
            if not any(runner.alive() for runner in self.processors):
                break
            time.sleep(1.0)
        raise AssertionError(
            f"timed out after {timeout_s:.0f}s waiting for {what} "
            f"(namespace {self.namespace}); logs:\n{self.describe()}"
        )

    def restart_exited_processors(self) -> None:
        for runner in list(self.processors):
            if not runner.alive() and runner.name not in {name for name, _ in self.restarted}:
                self.restarted.append((runner.name, runner.process.returncode))
                self.start_processor()

    def describe(self) -> str:
        parts = []
        for runner in self.processors + self.sinks:
            state = "running" if runner.alive() else f"exit {runner.process.returncode}"
            parts.append(f"--- {runner.name} ({state}) {runner.log_path}\n{runner.log_tail(15)}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        """Cancel producers still running (a failed scenario), stop every process."""
        for producer in self.producers:
            producer.cancel(timeout_s=30)
        for runner in self.processors + self.sinks:
            with contextlib.suppress(Exception):
                runner.stop(timeout_s=20)
