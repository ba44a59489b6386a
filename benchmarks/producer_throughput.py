"""Producer throughput: realistic events/s, encode-only beside end-to-end (delivery confirmed).

    python benchmarks/producer_throughput.py --events 100000 --runs 5

Events come from the traffic generator (interactions with tools and reasoning, feedback,
signals; about 0.8 KB on average, interactions about 1 KB). Stages, each timed on the same
events, median of --runs:

- fastavro-encode: fastavro's schemaless_writer alone (the serializer before its compiled writer)
- avro-encode:   the schemas serializer (compiled writer + single-object header)
- sdk-prepare:   the SDK's contract checks + encode in one pass, the slow path for what that
                 declines (what a log call does before Kafka; producers.encoding)
- raw-produce:   pre-encoded bytes through a bare confluent-kafka producer with the SDK's
                 settings, until every delivery report is in (the Kafka floor)
- sdk-end-to-end: FeedbackClient.send() for every event, then flush: all delivered

Needs the local stack (`feedbackctl stack up`); creates and deletes its own topics.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from fastavro import schemaless_writer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from producers.checks import checker_for
from producers.client import FeedbackClient, ProducerTopics, producer_config
from producers.encoding import checked_encoder
from producers.settings import ProducerSettings
from producers.traffic import TrafficConfig, generate_traffic
from schemas.serializer import serializer_for
from schemas.topics import TopicSpec

console = Console(width=120)

Event = tuple[TopicSpec, dict[str, Any]]


def realistic_events(count: int, seed: int) -> list[Event]:
    """At least `count` good events in emission order (generated once, outside the timing)."""
    events: list[Event] = []
    sessions = max(1, count // 4)
    for event in generate_traffic(TrafficConfig(sessions=sessions, seed=seed)).events():
        if event.record is not None:
            events.append((event.topic, event.record))
    while len(events) < count:
        events.extend(events[: count - len(events)])
    return events[:count]


def time_stage(stage: Callable[[], int]) -> tuple[float, float, float]:
    """Events per second of wall clock of one run of a stage, CPU microseconds per event of this
    process (all threads, librdkafka's included) and of the calling thread alone (the agent's
    thread: what bounds the rate when librdkafka's threads run on another core). On a busy
    machine the CPU figures are the steadier ones."""
    start, cpu_start, thread_start = time.perf_counter(), time.process_time(), time.thread_time()
    handled = stage()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    thread = time.thread_time() - thread_start
    per_event = 1e6 / max(handled, 1)
    return handled / wall, cpu * per_event, thread * per_event


def fastavro_encode(events: list[Event]) -> Callable[[], int]:
    """The plain fastavro path the serializer used before its compiled writer (for comparison)."""
    schemas = {topic.name: serializer_for(topic).writer.plain for topic, _ in events}

    def run() -> int:
        for topic, record in events:
            buffer = BytesIO()
            schemaless_writer(buffer, schemas[topic.name], record, strict_allow_default=True)
            buffer.getvalue()
        return len(events)

    return run


def avro_encode(events: list[Event]) -> Callable[[], int]:
    serializers = {topic.name: serializer_for(topic) for topic, _ in events}

    def run() -> int:
        for topic, record in events:
            serializers[topic.name].encode(record)
        return len(events)

    return run


def sdk_prepare(events: list[Event], settings: ProducerSettings) -> Callable[[], int]:
    serializers = {topic.name: serializer_for(topic) for topic, _ in events}
    checks = {topic.name: checker_for(topic.value_record) for topic, _ in events}
    limit = settings.max_text_bytes
    skew_ms = int(settings.max_future_skew_s * 1000)
    checked = {
        name: checked_encoder(serializer, limit, settings.max_event_bytes, skew_ms)
        for name, serializer in serializers.items()
    }

    def run() -> int:
        for topic, record in events:
            record["session_id"].encode()
            encode = checked[topic.name]
            if encode is not None:
                try:
                    encode(record)
                    continue
                except Exception:
                    pass
            checks[topic.name](record, limit)
            serializers[topic.name].encode(record)
        return len(events)

    return run


def raw_produce(
    events: list[Event], settings: ProducerSettings, topics: dict[str, str]
) -> Callable[[], int]:
    encoded = [
        (topics[topic.name], record["session_id"].encode(), serializer_for(topic).encode(record))
        for topic, record in events
    ]

    def run() -> int:
        delivered = 0

        def on_delivery(err: Any, _msg: Any) -> None:
            nonlocal delivered
            if err is None:
                delivered += 1

        producer = Producer({**producer_config(settings), "on_delivery": on_delivery})
        for name, key, value in encoded:
            while True:
                try:
                    producer.produce(name, value, key)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
        producer.flush(120)
        return delivered

    return run


def sdk_end_to_end(
    events: list[Event], settings: ProducerSettings, topics: ProducerTopics
) -> Callable[[], int]:
    by_record = {t.value_record: t for t in (topics.interactions, topics.feedback, topics.signals)}
    routed = [(by_record[topic.value_record], record) for topic, record in events]

    def run() -> int:
        client = FeedbackClient(settings, topics=topics, registry=CollectorRegistry())
        send = client.send
        for topic, record in routed:
            send(topic, record)
        client.flush(120)
        stats = client.close()
        if stats.delivered != len(routed):
            console.print(f"[red]only {stats.delivered} of {len(routed)} delivered: {stats}")
        return stats.delivered

    return run


def create_topics(admin: AdminClient, run_id: str) -> ProducerTopics:
    topics = ProducerTopics.in_namespace(f"bench-{run_id}")
    specs = (topics.interactions, topics.feedback, topics.signals)
    # Three replicas on a cluster of three brokers (acks=all then waits for two), else one.
    replicas = max(1, min(3, len(admin.list_topics(timeout=10).brokers)))
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, replicas, config=s.kafka_config()) for s in specs]
    )
    for future in futures.values():
        future.result(timeout=30)
    return topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compression", default=None, help="lz4, zstd, none... (settings default)")
    parser.add_argument("--linger-ms", type=int, default=None)
    parser.add_argument(
        "--stages", default="fastavro-encode,avro-encode,sdk-prepare,raw-produce,sdk-end-to-end"
    )
    args = parser.parse_args(argv)

    overrides: dict[str, Any] = {
        "spool_dir": Path(tempfile.mkdtemp(prefix="producer-bench-spool-")),
        "replay_spool_on_start": False,
    }
    if args.compression:
        overrides["compression"] = args.compression
    if args.linger_ms is not None:
        overrides["linger_ms"] = args.linger_ms
    settings = ProducerSettings(**overrides)
    console.print(f"generating {args.events:,} realistic events (seed {args.seed})...")
    events = realistic_events(args.events, args.seed)
    sizes = [len(serializer_for(t).encode(r)) for t, r in events[:20_000]]
    console.print(
        f"mean encoded size {statistics.mean(sizes):,.0f} B; compression {settings.compression}, "
        f"linger {settings.linger_ms} ms, {settings.bootstrap_servers}"
    )
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    topics = create_topics(admin, uuid.uuid4().hex[:10])
    names = [spec.name for spec in (topics.interactions, topics.feedback, topics.signals)]
    raw_names = {topic.name: _routed(topic, topics).name for topic, _ in events}
    stages: dict[str, Callable[[], int]] = {
        "fastavro-encode": fastavro_encode(events),
        "avro-encode": avro_encode(events),
        "sdk-prepare": sdk_prepare(events, settings),
        "raw-produce": raw_produce(events, settings, raw_names),
        "sdk-end-to-end": sdk_end_to_end(events, settings, topics),
    }
    load_before = _load()
    wanted = [name.strip() for name in args.stages.split(",") if name.strip()]
    results: dict[str, list[float]] = {name: [] for name in wanted}
    cpu: dict[str, list[float]] = {name: [] for name in wanted}
    thread_cpu: dict[str, list[float]] = {name: [] for name in wanted}
    try:
        for run in range(args.runs):
            for name in wanted:
                rate, cpu_us, thread_us = time_stage(stages[name])
                results[name].append(rate)
                cpu[name].append(cpu_us)
                thread_cpu[name].append(thread_us)
                console.print(
                    f"run {run + 1}/{args.runs} {name}: {rate:,.0f} events/s, "
                    f"{cpu_us:.1f} CPU µs/event (calling thread {thread_us:.1f}), "
                    f"load average {_load()}"
                )
    finally:
        admin.delete_topics(names, operation_timeout=30)
    table = Table(title=f"producer throughput, {args.events:,} events, {args.runs} runs")
    columns = (
        "stage",
        "median events/s",
        "min",
        "max",
        "wall µs/event",
        "CPU µs/event",
        "calling thread CPU µs/event",
    )
    for column in columns:
        table.add_column(column, justify="right" if column != "stage" else "left")
    for name, rates in results.items():
        median = statistics.median(rates)
        table.add_row(
            name,
            f"{median:,.0f}",
            f"{min(rates):,.0f}",
            f"{max(rates):,.0f}",
            f"{1e6 / median:.1f}",
            f"{statistics.median(cpu[name]):.1f}",
            f"{statistics.median(thread_cpu[name]):.1f}",
        )
    console.print(table)
    console.print(f"load average before/after: {load_before} / {_load()}")
    console.print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"python benchmarks/producer_throughput.py {' '.join(argv or sys.argv[1:])}"
    )
    return 0


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _routed(topic: TopicSpec, topics: ProducerTopics) -> TopicSpec:
    for spec in (topics.interactions, topics.feedback, topics.signals):
        if spec.value_record == topic.value_record:
            return spec
    raise KeyError(topic.value_record)


if __name__ == "__main__":
    sys.exit(main())
