"""Figures per core: what one more worker costs, and the producer and sink on a replicated Kafka.

    python benchmarks/scale_out.py [--sessions 10000] [--producer-events 50000] [--skip-cluster]

Starts its own stacks (never the shared one), on free ports under a temporary directory:
a single-node Kafka + Redis, then (unless --skip-cluster) the shape of `feedbackctl stack up
--brokers 3 --redis-cluster 3`. On each:

1. Workers: the same generated backlog (good records only) in a fresh namespace per run, with
   1 and then 2 workers (`python -m stream_processors`) already in their group before it is
   produced. Per run: events/s from the first produce until every partition's checkpoint covers
   the backlog, each group member's events/s (its partitions' events over the same time), the
   workers' total CPU µs per event (all processes; the scale-out cost: it should not grow with
   workers), Redis CPU µs per event (every Redis node) and Kafka CPU µs per event (every
   broker), both less what they used idle over 5 s before the backlog. On the cluster only the
   1-worker run is repeated (the Redis Cluster's cost).
2. Producer: the SDK end to end (acks=all, idempotent, all delivered) and the raw-produce floor
   (pre-encoded bytes, same settings), events/s and CPU µs per event of this process.
3. Sink: one `DeltaSink` from the filled input topics to committed Delta files, rows/s and CPU
   µs per row of this process.

CPU time per event moves much less than events/s when the machine is shared and busy: the load
average is printed beside every figure.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.producer_throughput import (  # noqa: E402
    create_topics,
    raw_produce,
    realistic_events,
    sdk_end_to_end,
    time_stage,
)
from benchmarks.sink_throughput import measure_sink  # noqa: E402
from local_stack.topics import ensure_topics  # noqa: E402
from producers.client import ProducerTopics  # noqa: E402
from producers.settings import ProducerSettings  # noqa: E402
from producers.traffic import TrafficConfig, generate_traffic  # noqa: E402
from schemas.partitioning import PARTITIONER  # noqa: E402
from schemas.topics import INPUT_TOPICS, INTERACTIONS, TOPICS, TopicSpec  # noqa: E402
from stream_processors.redis_state import RedisLayout, redis_client  # noqa: E402
from stream_processors.settings import ProcessorSettings  # noqa: E402
from tests.e2e.pipeline_harness import PrivateStack, start_private_stack  # noqa: E402

Message = tuple[TopicSpec, bytes | None, bytes]


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def backlog(sessions: int) -> list[Message]:
    traffic = generate_traffic(TrafficConfig(sessions=sessions, seed=5, max_feedback_delay_s=600))
    return [(e.topic, e.key, e.value()) for e in traffic.events() if e.record is not None]


def produce(bootstrap: str, namespace: str, messages: list[Message]) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4",
         "acks": "all", "enable.idempotence": True, "queue.buffering.max.kbytes": 1_048_576,
         "partitioner": PARTITIONER}
    )  # fmt: skip
    names = {spec.name: spec.in_namespace(namespace).name for spec in INPUT_TOPICS}
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(names[topic.name], value, key)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0, "the backlog was not delivered"


class Workers:
    """`count` processor workers of one namespace, started as a user starts them."""

    def __init__(self, stack: PrivateStack, namespace: str, count: int, log_dir: Path) -> None:
        self.stack, self.namespace = stack, namespace
        self.settings = ProcessorSettings(namespace=namespace, redis_url=stack.redis_url)
        env = {
            **os.environ,
            "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
            "FEEDBACK_PROCESSOR_REDIS_URL": stack.redis_url,
        }
        self.processes = []
        for n in range(count):
            with (log_dir / f"{namespace}-worker-{n}.log").open("wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "stream_processors",
                            "--namespace",
                            namespace,
                            "--loglevel",
                            "info",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        self.redis = redis_client(stack.redis_url)
        clustered = stack.stack.redis_cluster is not None
        self.layout = RedisLayout(self.settings.redis_prefix, cluster=clustered)

    def assignment(self) -> list[list[int]] | None:
        """Input partitions of each member, once `count` members all have some."""
        admin = AdminClient({"bootstrap.servers": self.stack.bootstrap_servers})
        group = self.settings.group_id
        try:
            description = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
        except KafkaException:
            return None
        topic = INTERACTIONS.in_namespace(self.namespace).name
        members = [
            sorted(tp.partition for tp in m.assignment.topic_partitions if tp.topic == topic)
            for m in description.members
        ]
        if len(members) < len(self.processes) or not all(members):
            return None
        return members

    def checkpointed(self) -> dict[int, int]:
        """Input messages each partition's checkpoint covers."""
        pipe = self.redis.pipeline(transaction=False)
        for p in range(INTERACTIONS.partitions):
            pipe.hget(self.layout.table_hash("progress", p), str(p).encode())
        done = {}
        for p, raw in enumerate(pipe.execute()):
            offsets = orjson.loads(raw)["offsets"] if raw else {}
            done[p] = sum(offset + 1 for offset in offsets.values())
        return done

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(60)
        self.redis.close()


def wait(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def measure_workers(
    stack: PrivateStack, messages: list[Message], count: int, log_dir: Path
) -> dict[str, Any]:
    namespace = f"scale{uuid.uuid4().hex[:8]}"
    ensure_topics(stack.bootstrap_servers, [s.in_namespace(namespace) for s in TOPICS])
    workers = Workers(stack, namespace, count, log_dir)
    try:
        members = wait(workers.assignment, 180, f"{count} worker(s) to join the group")
        time.sleep(2.0)  # let the workers finish loading their partitions
        pids = [p.pid for p in workers.processes]
        redis_pids = [n.process.pid for n in stack.stack.redis_nodes]
        kafka_pids = [n.process.pid for n in stack.stack.kafka_nodes]
        # What the services burn with nothing to do (heartbeats, the controller quorum, the
        # workers' idle ticks) is subtracted: figures per event are the traffic's cost.
        idle_s = 5.0
        idle0 = [total_cpu(p for p in group if p) for group in (redis_pids, kafka_pids)]
        time.sleep(idle_s)
        idle = [
            (total_cpu(p for p in group if p) - before) / idle_s
            for group, before in zip((redis_pids, kafka_pids), idle0, strict=True)
        ]
        cpu0 = [cpu_seconds(pid) for pid in pids]
        redis0 = total_cpu(p for p in redis_pids if p)
        kafka0 = total_cpu(p for p in kafka_pids if p)
        load_before = load()
        started = time.perf_counter()
        produce(stack.bootstrap_servers, namespace, messages)
        total = len(messages)
        wait(lambda: sum(workers.checkpointed().values()) >= total, 600, "the backlog")
        elapsed = time.perf_counter() - started
        cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
        redis_cpu = total_cpu(p for p in redis_pids if p) - redis0 - idle[0] * elapsed
        kafka_cpu = total_cpu(p for p in kafka_pids if p) - kafka0 - idle[1] * elapsed
        done = workers.checkpointed()
    finally:
        workers.stop()
    logs = (log_dir / f"{namespace}-worker-0.log").read_text(errors="replace")
    join_logic = logs.split("join logic: ", 1)[1].split()[0] if "join logic: " in logs else "?"
    return {
        "join_logic": join_logic,  # "compiled" (mypyc) or "pure" Python
        "workers": count,
        "events": total,
        "seconds": elapsed,
        "events_per_s": total / elapsed,
        "member_events_per_s": [sum(done[p] for p in parts) / elapsed for parts in members],
        "worker_cpu_us": [c / total * 1e6 for c in cpu],
        "workers_cpu_us": sum(cpu) / total * 1e6,
        "redis_cpu_us": redis_cpu / total * 1e6,
        "kafka_cpu_us": kafka_cpu / total * 1e6,
        "load": f"{load_before} / {load()}",
    }


def measure_producer(stack: PrivateStack, events: int, runs: int) -> dict[str, Any]:
    settings = ProducerSettings(
        bootstrap_servers=stack.bootstrap_servers,
        spool_dir=Path(tempfile.mkdtemp(prefix="scale-spool-")),
        replay_spool_on_start=False,
    )
    generated = realistic_events(events, seed=7)
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    topics: ProducerTopics = create_topics(admin, uuid.uuid4().hex[:10])
    specs = (topics.interactions, topics.feedback, topics.signals)
    by_record = {spec.value_record: spec.name for spec in specs}
    raw_names = {topic.name: by_record[topic.value_record] for topic, _ in generated}
    results: dict[str, Any] = {"load_before": load()}
    for name, stage in (
        ("raw-produce", raw_produce(generated, settings, raw_names)),
        ("sdk-end-to-end", sdk_end_to_end(generated, settings, topics)),
    ):
        measured = sorted((time_stage(stage) for _ in range(runs)), key=lambda r: r[0])
        rate, cpu_us, _thread_us = measured[len(measured) // 2]  # the median run
        results[name] = {"events_per_s": rate, "cpu_us": cpu_us}
    results["load_after"] = load()
    admin.delete_topics([spec.name for spec in specs], operation_timeout=30)
    return results


def measure_sink_rate(stack: PrivateStack, messages: list[Message]) -> dict[str, Any]:
    namespace = f"scalesink{uuid.uuid4().hex[:8]}"
    ensure_topics(stack.bootstrap_servers, [s.in_namespace(namespace) for s in TOPICS])
    produce(stack.bootstrap_servers, namespace, messages)
    lake = tempfile.mkdtemp(prefix="scale-sink-")
    load_before = load()
    cpu = time.process_time()
    try:
        result = measure_sink(stack.bootstrap_servers, namespace, lake, len(messages))
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    result["cpu_us"] = (time.process_time() - cpu) / max(result["rows"], 1) * 1e6
    result["load"] = f"{load_before} / {load()}"
    return result


def report_workers(label: str, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        members = ", ".join(f"{rate:,.0f}" for rate in run["member_events_per_s"])
        per_worker = ", ".join(f"{c:.0f}" for c in run["worker_cpu_us"])
        print(
            f"[{label}] {run['workers']} worker(s), {run['events']:,} events in "
            f"{run['seconds']:.1f} s: {run['events_per_s']:,.0f} events/s (members: {members}); "
            f"workers CPU {run['workers_cpu_us']:.0f} µs/event (each: {per_worker}); "
            f"Redis CPU {run['redis_cpu_us']:.1f} µs/event; Kafka CPU "
            f"{run['kafka_cpu_us']:.1f} µs/event; join logic {run['join_logic']}; {run['load']}",
            flush=True,
        )


def report_producer(label: str, result: dict[str, Any]) -> None:
    for stage in ("raw-produce", "sdk-end-to-end"):
        figures = result[stage]
        print(
            f"[{label}] producer {stage} (acks=all): {figures['events_per_s']:,.0f} events/s, "
            f"{figures['cpu_us']:.1f} CPU µs/event; {result['load_before']} / "
            f"{result['load_after']}",
            flush=True,
        )


def report_sink(label: str, result: dict[str, Any]) -> None:
    print(
        f"[{label}] sink: {result['rows']:,} rows, {result['rows_per_s']:,.0f} rows/s "
        f"({result['rows_per_s_from_first_message']:,.0f} from the first message), "
        f"{result['cpu_us']:.1f} CPU µs/row, exact {result['exact']}; {result['load']}",
        flush=True,
    )


def run_on(
    label: str, stack: PrivateStack, args: argparse.Namespace, messages: list[Message],
    worker_counts: list[int], log_dir: Path,
) -> None:  # fmt: skip
    runs = [measure_workers(stack, messages, count, log_dir) for count in worker_counts]
    report_workers(label, runs)
    report_producer(label, measure_producer(stack, args.producer_events, args.runs))
    report_sink(label, measure_sink_rate(stack, messages))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=int, default=10_000, help="backlog size (~5 events each)"
    )
    parser.add_argument("--producer-events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3, help="producer runs (median)")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="scale-out-"))
    log_dir = work / "logs"
    log_dir.mkdir()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
          f"{load()}; logs in {log_dir}", flush=True)  # fmt: skip
    messages = backlog(args.sessions)
    print(f"backlog: {len(messages):,} events", flush=True)
    shapes = [("single node", 1, 0, [1, 2])]
    if not args.skip_cluster:
        shapes.append(("3 brokers + Redis Cluster 3x2", 3, 3, [1]))
    try:
        for label, brokers, primaries, counts in shapes:
            stack = start_private_stack(work / f"stack-{brokers}", brokers, primaries)
            try:
                run_on(label, stack, args, messages, counts, log_dir)
            finally:
                stack.down(purge=True)
    finally:
        shutil.rmtree(work / "stack-1", ignore_errors=True)
        shutil.rmtree(work / "stack-3", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
