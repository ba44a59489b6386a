"""Sink throughput and end-to-end lag against the local stack.

Fills the three input topics with realistic traffic (producers.traffic), then measures in the
same run:
1. the floor: a bare confluent-kafka consumer that consumes and Avro-decodes every message
   (the fastest a per-record Python pipeline can read these topics);
2. the sink: `DeltaSink` from the full topics to committed Delta files (raw_events);
3. end-to-end lag: a steady stream produced while a sink runs; per row, Delta commit time minus
   the Kafka (producer) timestamp.

    python benchmarks/sink_throughput.py [--sessions 8000 --repeat 10 --lag-rate 2000]

Targets: >= 50,000 rows/s, >= 0.7x the floor, lag within flush_latency_s + 2 s.
"""

import argparse
import json
import multiprocessing as mp
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from plumbing.settings import DEFAULT_BOOTSTRAP_SERVERS
from producers.traffic import TrafficConfig, generate_traffic
from schemas import serializer_for
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, METRICS
from sinks import DeltaSink, SinkSettings

ALL_SINK_TOPICS = (*INPUT_TOPICS, ENRICHED, METRICS, DEADLETTER)


def generate(sessions: int) -> list[tuple[str, bytes | None, bytes]]:
    traffic = generate_traffic(TrafficConfig(sessions=sessions, seed=7))
    return [(event.topic.name, event.key, event.value()) for event in traffic.events()]


def produce(bootstrap: str, namespace: str, events, repeat: int = 1) -> int:  # type: ignore[no-untyped-def]
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
         "compression.type": "lz4", "queue.buffering.max.kbytes": 1_048_576}
    )  # fmt: skip
    names = {spec.name: spec.in_namespace(namespace).name for spec in INPUT_TOPICS}
    count = 0
    for _ in range(repeat):
        for topic, key, value in events:
            while True:
                try:
                    producer.produce(names[topic], value, key)
                    break
                except BufferError:
                    producer.poll(0.05)
            count += 1
    producer.flush(120)
    return count


def measure_floor(bootstrap: str, namespace: str, expected: int) -> tuple[float, float]:
    """Consume + full Avro decode of every message; returns (rows/s from subscribe,
    rows/s from the first message)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"floor-{uuid.uuid4().hex[:8]}",
         "auto.offset.reset": "earliest", "enable.auto.commit": False,
         "fetch.max.bytes": 64 * 1024 * 1024, "max.partition.fetch.bytes": 8 * 1024 * 1024,
         "queued.max.messages.kbytes": 262144}
    )  # fmt: skip
    decoders = {
        spec.in_namespace(namespace).name: serializer_for(spec).decode for spec in INPUT_TOPICS
    }
    consumer.subscribe(list(decoders))
    started = time.perf_counter()
    first = None
    seen = 0
    deadline = started + 300
    while seen < expected and time.perf_counter() < deadline:
        for message in consumer.consume(10_000, 0.5):
            if message.error() is not None:
                continue
            if first is None:
                first = time.perf_counter()
            decoders[message.topic()](message.value())
            seen += 1
    ended = time.perf_counter()
    consumer.close()
    return seen / (ended - started), seen / (ended - (first or started))


def run_one_sink(settings: SinkSettings, results: "mp.Queue[tuple]") -> None:  # type: ignore[type-arg]
    started = time.time()
    stats = DeltaSink(settings).run(exit_when_idle_s=2.0)
    results.put((started, stats.first_message_at, stats.last_commit_at, stats.rows["raw_events"],
                 stats.flushes))  # fmt: skip


def measure_sink(
    bootstrap: str, namespace: str, lake: str, expected: int, processes: int = 1
) -> dict:
    """`processes` sinks in one consumer group (forked processes, after imports)."""
    settings = SinkSettings(
        bootstrap_servers=bootstrap, lake_uri=lake, namespace=namespace,
        group_id=f"sink-{uuid.uuid4().hex[:8]}", session_timeout_ms=6000,
    )  # fmt: skip
    results: mp.Queue[tuple] = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
    if processes == 1:
        run_one_sink(settings, results)
    else:
        children = [
            mp.get_context("spawn").Process(target=run_one_sink, args=(settings, results))
            for _ in range(processes)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=600)
    runs = [results.get(timeout=10) for _ in range(processes)]
    started = min(run[0] for run in runs)
    first = min(run[1] for run in runs if run[1] is not None)
    committed = max(run[2] for run in runs if run[2] is not None)
    rows = sum(run[3] for run in runs)
    return {
        "rows": rows,
        "commits": sum(run[4] for run in runs),
        "rows_per_s": rows / (committed - started),
        "rows_per_s_from_first_message": rows / (committed - first),
        "exact": rows == expected,
    }


def measure_lag(
    bootstrap: str, namespace: str, lake: str, events, rate: int, seconds: float
) -> dict:  # type: ignore[no-untyped-def]
    settings = SinkSettings(
        bootstrap_servers=bootstrap, lake_uri=lake, namespace=namespace,
        group_id=f"lag-{uuid.uuid4().hex[:8]}", start_from="latest",
    )  # fmt: skip
    sink = DeltaSink(settings)
    runner = threading.Thread(target=sink.run, daemon=True)
    runner.start()
    time.sleep(3.0)  # joined and assigned (start_from=latest: only the stream below counts)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    names = {spec.name: spec.in_namespace(namespace).name for spec in INPUT_TOPICS}
    interval = 1.0 / rate
    produced = 0
    began = time.perf_counter()
    for topic, key, value in events:
        if time.perf_counter() - began > seconds:
            break
        producer.produce(names[topic], value, key)
        produced += 1
        producer.poll(0)
        target = began + produced * interval
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush(30)
    time.sleep(settings.flush_latency_s + 3.0)
    sink.stop()
    runner.join(timeout=60)
    lags = commit_lags(Path(lake) / namespace / "raw_events")
    lags.sort()
    return {
        "produced": produced,
        "rows": len(lags),
        "flush_latency_s": settings.flush_latency_s,
        "lag_p50_s": statistics.median(lags),
        "lag_p99_s": lags[int(len(lags) * 0.99) - 1],
        "lag_max_s": lags[-1],
    }


def commit_lags(table: Path) -> list[float]:
    """Per row: commit time of the version that added its file minus its Kafka timestamp."""
    lags: list[float] = []
    for log in sorted((table / "_delta_log").glob("*.json")):
        committed_ms = None
        files = []
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                committed_ms = action["commitInfo"]["timestamp"]
            if "add" in action:
                files.append(action["add"]["path"])
        for path in files:
            stamps = pq.read_table(table / path, columns=["kafka_timestamp"])["kafka_timestamp"]
            millis = stamps.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
            lags.extend((committed_ms - ms) / 1000 for ms in millis)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default=DEFAULT_BOOTSTRAP_SERVERS)
    parser.add_argument("--sessions", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=10, help="Produce the traffic this often.")
    parser.add_argument("--lag-rate", type=int, default=2000, help="Events/s of the lag stream.")
    parser.add_argument("--lag-seconds", type=float, default=15.0)
    parser.add_argument(
        "--processes", type=int, default=2, help="Also run this many sinks in one group (1: skip)."
    )
    args = parser.parse_args()
    bootstrap = args.bootstrap_servers
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    lag_namespace = f"{namespace}-lag"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    specs = [s.in_namespace(ns) for ns in (namespace, lag_namespace) for s in ALL_SINK_TOPICS]
    for future in admin.create_topics([NewTopic(s.name, s.partitions, 1) for s in specs]).values():
        future.result(timeout=30)
    lake = tempfile.mkdtemp(prefix="sink-bench-")
    try:
        events = generate(args.sessions)
        total = produce(bootstrap, namespace, events, args.repeat)
        mean_size = sum(len(v) for _, _, v in events) / len(events)
        print(f"topics filled: {total} messages, mean value {mean_size:.0f} B")
        floor, floor_hot = measure_floor(bootstrap, namespace, total)
        print(f"floor (consume + full Avro decode): {floor:,.0f} rows/s "
              f"({floor_hot:,.0f} rows/s from the first message)")  # fmt: skip
        sink = measure_sink(bootstrap, namespace, lake, total)
        print(f"sink (to committed Delta files): {sink['rows_per_s']:,.0f} rows/s "
              f"({sink['rows_per_s_from_first_message']:,.0f} from the first message), "
              f"{sink['commits']} commits, exactly {total} rows: {sink['exact']}")  # fmt: skip
        hot_ratio = sink["rows_per_s_from_first_message"] / floor_hot
        print(f"sink / floor: {sink['rows_per_s'] / floor:.2f}x "
              f"({hot_ratio:.2f}x from first message)")  # fmt: skip
        if args.processes > 1:
            group_lake = tempfile.mkdtemp(prefix="sink-bench-group-")
            try:
                group = measure_sink(bootstrap, namespace, group_lake, total, args.processes)
            finally:
                shutil.rmtree(group_lake, ignore_errors=True)
            print(f"{args.processes} sinks in one group: {group['rows_per_s']:,.0f} rows/s "
                  f"({group['rows_per_s_from_first_message']:,.0f} from the first message), "
                  f"exactly {total} rows: {group['exact']}")  # fmt: skip
        lag = measure_lag(bootstrap, lag_namespace, lake, events, args.lag_rate, args.lag_seconds)
        print(f"end-to-end lag at {args.lag_rate} events/s, flush_latency_s="
              f"{lag['flush_latency_s']}: p50 {lag['lag_p50_s']:.2f}s, "
              f"p99 {lag['lag_p99_s']:.2f}s, "
              f"max {lag['lag_max_s']:.2f}s over {lag['rows']} rows "
              f"(target <= {lag['flush_latency_s'] + 2:.1f}s)")  # fmt: skip
    finally:
        shutil.rmtree(lake, ignore_errors=True)
        admin.delete_topics([s.name for s in specs], operation_timeout=30)


if __name__ == "__main__":
    main()
