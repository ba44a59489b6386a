"""The whole pipeline at increasing input rates: producers -> processor -> sink -> Delta.

Starts a private Kafka + Redis on free ports (never the shared stack), then for each rate runs
`--workers` processor workers (one consumer group) and one sink as subprocesses
(`feedbackctl process` / `feedbackctl sink`),
produces generator traffic through the SDK at that rate for `--duration` seconds, waits until
every output is final and in the lake, and prints per rate:

- sustained throughput: input events / (time from the first event until the processor, resp. the
  sink, had everything; equals the rate when the stage keeps up);
- consumer lag: max and mean over the run of end offset - committed offset, per group (sampled
  every 0.5 s; Faust commits every few seconds, so the processor's figure is coarse);
- event-to-metric latency p50/p99: per interaction, from its Kafka timestamp to the first
  metrics record of its window (agent, version, window) whose `interactions` count includes it
  (the i-th interaction of a window by Kafka time is counted once a record shows >= i); over
  all interactions, and over those produced while input still flowed (all but the last
  `TAIL_S` seconds of production: the end of a stream waits for the inputs to go idle, by
  design), with the metrics records/s the processor published (running updates and finals);
- event-to-Delta latency p50/p99: per raw_events row, Delta commit time - Kafka timestamp;
- CPU (% of one core, averaged over the run) and peak RSS per process, from /proc;
- the floor in the same run: a bare confluent-kafka consumer that reads the same input topics
  and fully Avro-decodes every message.

    python benchmarks/pipeline_report.py [--rates 1000,2000,5000] [--duration 20] [--workers 2]
        [--processor-env FEEDBACK_PROCESSOR_METRICS_UPDATE_INTERVAL_S=0.25 ...]

Event time follows the wall clock (sessions_per_second = rate / events per session), with the
e2e suite's short timeouts (10 s metric windows, 500 ms allowed lateness, 1 s idle timeout);
`--processor-env` overrides any processor setting. The load average is printed with the figures:
on a shared machine they move with it.
"""

import argparse
import bisect
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from producers.emitter import Pacer
from producers.traffic import generate_traffic
from schemas.partitioning import PARTITIONER
from schemas.serializer import serializer_for
from schemas.topics import INPUT_TOPICS, INTERACTIONS, METRICS
from tests.e2e.pipeline_harness import (
    Pipeline,
    PrivateStack,
    Produced,
    scenario_traffic,
    start_private_stack,
)

EVENTS_PER_SESSION = 5.3  # mean of the generator with the e2e settings (1067 events / 200)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TAIL_S = 3.0  # the end of production: lateness + idle timeout + a margin (see metric_latencies)
# The start of production: the workers join their group and fetch for the first time, a source
# that has shown nothing holds the watermark for the idle timeout, and the backlog of those
# seconds drains (docs/performance.md, event-to-metric latency with two workers).
WARMUP_S = 10.0


@dataclass
class ProcessSample:
    """CPU seconds and peak RSS of one process (and its children), from /proc."""

    pid: int
    with_children: bool = True
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    peak_rss_mb: float = 0.0

    def sample(self, first: bool = False) -> None:
        cpu, rss = _proc_usage(self.pid, self.with_children)
        if cpu is None:
            return
        if first:
            self.cpu_start = cpu
        self.cpu_end = cpu
        self.peak_rss_mb = max(self.peak_rss_mb, rss)


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found = []
        for task in tasks:
            text = (task / "children").read_text().split()
            found += [int(child) for child in text]
        return found
    except OSError:
        return []


def _proc_usage(pid: int, with_children: bool = True) -> tuple[float | None, float]:
    """(utime + stime in seconds, RSS in MB) of pid and (optionally) its descendants."""
    cpu, rss = 0.0, 0.0
    pending, seen = [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            if current == pid:
                return None, 0.0
            continue
        cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
        if with_children:
            pending += _children(current)
    return cpu, rss


@dataclass
class LagSampler:
    """Samples consumer-group lag (end offset - committed) of the input topics."""

    bootstrap: str
    groups: dict[str, list[str]]  # group -> topics
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-lag"})
        try:
            while not self.stop.wait(0.5):
                for group, topics in self.groups.items():
                    lag = _group_lag(admin, consumer, group, topics)
                    if lag is not None:
                        self.samples[group].append((time.monotonic(), lag))
        finally:
            consumer.close()

    def caught_up_at(self, group: str, after: float) -> float | None:
        """The first time after `after` at which the group had committed everything."""
        return next((t for t, lag in self.samples[group] if t >= after and lag == 0), None)


def _group_lag(admin: AdminClient, consumer: Consumer, group: str, topics: list[str]) -> int | None:
    from confluent_kafka import ConsumerGroupTopicPartitions

    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in consumer.list_topics(topic, timeout=5).topics[topic].partitions
    ]
    try:
        future = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, partitions)]
        )[group]
        committed = {(tp.topic, tp.partition): tp.offset for tp in future.result().topic_partitions}
    except Exception:
        return None
    lag = 0
    for tp in partitions:
        _, high = consumer.get_watermark_offsets(tp, timeout=5)
        done = committed.get((tp.topic, tp.partition), -1)
        lag += high - max(done, 0)
    return lag


def read_messages(
    bootstrap: str, topics: Iterable[str], first_at: list[float] | None = None
) -> list[Any]:
    """Every message of `topics` from the beginning to the current end (`first_at` gets the
    time the first one arrived: the floor is timed from there, without connection set-up)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}",
         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024}
    )  # fmt: skip
    try:
        assignment, ends = [], {}
        for topic in topics:
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > low:
                    assignment.append(TopicPartition(topic, p, low))
                    ends[(topic, p)] = high
        consumer.assign(assignment)
        messages: list[Any] = []
        deadline = time.monotonic() + 120
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(10_000, timeout=1.0):
                if message.error():
                    continue
                if first_at is not None and not first_at:
                    first_at.append(time.perf_counter())
                messages.append(message)
                key = (message.topic(), message.partition())
                if message.offset() >= ends.get(key, 0) - 1:
                    ends.pop(key, None)
        return messages
    finally:
        consumer.close()


def floor_rate(bootstrap: str, topics: list[str]) -> tuple[int, float]:
    """(messages, messages/s) of consume + full Avro decode of `topics` by one bare consumer."""
    serializers = {
        topic: serializer_for(spec) for topic, spec in zip(topics, INPUT_TOPICS, strict=True)
    }
    first_at: list[float] = []
    messages = read_messages(bootstrap, topics, first_at)
    started = first_at[0] if first_at else time.perf_counter()
    for message in messages:
        serializers[message.topic()].decode(message.value())
    elapsed = time.perf_counter() - started
    return len(messages), len(messages) / elapsed


def encode_traffic(config: Any, namespace: str) -> tuple[Produced, list[tuple[str, Any, bytes]]]:
    """The traffic's messages, encoded before the clock starts (the SDK's own cost is measured
    by benchmarks/producer_throughput.py; here it would compete for the same two cores)."""
    traffic = generate_traffic(config)
    produced = Produced(config, traffic)
    encoded = [
        (event.topic.in_namespace(namespace).name, event.key, event.value())
        for event in produced.count(traffic.events())
    ]
    return produced, encoded


def produce_paced(bootstrap: str, messages: list[tuple[str, Any, bytes]], rate: float) -> None:
    """Produce `messages` at `rate` per second with the SDK's producer settings."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
            "partitioner": PARTITIONER,  # as the SDK
            "message.max.bytes": 16 * 1024 * 1024,
        }
    )
    pacer = Pacer(rate)
    for sent, (topic, key, value) in enumerate(messages, 1):
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
        pacer.wait(sent)
    if producer.flush(60):
        raise RuntimeError("the benchmark's producer could not deliver everything in 60 s")


@dataclass
class MetricLatencies:
    """Event-to-metric latencies (s) of every interaction, and of those produced while input
    still flowed (more than `TAIL_S` before the last one); the metrics records read, running
    and final."""

    all: list[float]
    steady: list[float]
    running_updates: int
    finals: int
    warmed: list[float] = field(default_factory=list)  # steady, after the first WARMUP_S
    by_10s: dict[int, list[float]] = field(default_factory=dict)  # second of production -> all


def metric_latencies(pipeline: Pipeline) -> MetricLatencies:
    """Seconds from each interaction's Kafka timestamp until a metrics record counted it."""
    ns = pipeline.namespace
    interactions = read_messages(pipeline.bootstrap, [INTERACTIONS.in_namespace(ns).name])
    metrics = read_messages(pipeline.bootstrap, [METRICS.in_namespace(ns).name])
    decode_interaction = serializer_for(INTERACTIONS).decode
    decode_metric = serializer_for(METRICS).decode
    window_ms = 10_000
    arrivals: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for message in interactions:
        record = decode_interaction(message.value())
        start = record["event_time"] - record["event_time"] % window_ms
        arrivals[(record["agent_id"], record["agent_version"], start)].append(
            message.timestamp()[1]
        )
    updates: dict[tuple[str, str, int], list[tuple[int, int]]] = defaultdict(list)
    finals = 0
    for message in metrics:
        record = decode_metric(message.value())
        finals += bool(record["is_final"])
        key = (record["agent_id"], record["agent_version"], record["window_start"])
        updates[key].append((message.timestamp()[1], record["interactions"]))
    result = MetricLatencies([], [], len(metrics) - finals, finals)
    last_ms = max((t for times in arrivals.values() for t in times), default=0)
    first_ms = min((t for times in arrivals.values() for t in times), default=0)
    steady_until_ms = last_ms - TAIL_S * 1000
    warmed_from_ms = first_ms + WARMUP_S * 1000
    for key, times in arrivals.items():
        times.sort()
        published = sorted(updates.get(key, []))
        counts_so_far: list[int] = []
        best = 0
        for _, count in published:
            best = max(best, count)
            counts_so_far.append(best)
        for rank, produced_at in enumerate(times, 1):
            index = bisect.bisect_left(counts_so_far, rank)
            if index < len(published):
                latency = max(0, published[index][0] - produced_at) / 1000
                result.all.append(latency)
                if produced_at < steady_until_ms:
                    result.steady.append(latency)
                    if produced_at >= warmed_from_ms:
                        result.warmed.append(latency)
                bucket = (produced_at - first_ms) // 10_000 * 10
                result.by_10s.setdefault(bucket, []).append(latency)
    return result


def delta_latencies(table_dir: Path) -> list[float]:
    """Per row of a Delta table: commit time of the version that added it - Kafka timestamp."""
    latencies: list[float] = []
    for entry in sorted((table_dir / "_delta_log").glob("*.json")):
        actions = [json.loads(line) for line in entry.read_text().splitlines() if line]
        commit = next((a["commitInfo"]["timestamp"] for a in actions if "commitInfo" in a), None)
        if commit is None:
            continue
        for action in actions:
            if "add" not in action:
                continue
            path = table_dir / unquote(action["add"]["path"])
            stamps = pq.read_table(path, columns=["kafka_timestamp"]).column(0)
            as_ms = pc.cast(pc.cast(stamps, pa.timestamp("ms", tz="UTC")), pa.int64())
            latencies += [(commit - stamp) / 1000 for stamp in as_ms.to_pylist() if stamp]
    return latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_rate(
    stack: PrivateStack,
    work_dir: Path,
    rate: float,
    duration_s: float,
    workers: int = 1,
    processor_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    pipeline = Pipeline(stack, work_dir)
    sessions = max(50, int(rate * duration_s / EVENTS_PER_SESSION))
    config = scenario_traffic(sessions, seed=7, sessions_per_second=rate / EVENTS_PER_SESSION)
    inputs = [spec.in_namespace(pipeline.namespace).name for spec in INPUT_TOPICS]
    processor_group = f"feedback-processor.{pipeline.namespace}"
    try:
        processors = [pipeline.start_processor(processor_env) for _ in range(workers)]
        sink = pipeline.start_sink()
        pipeline.wait_ready()
        usage = {
            **{
                f"processor {n}" if workers > 1 else "processor": ProcessSample(p.pid)
                for n, p in enumerate(processors, 1)
            },
            "sink": ProcessSample(sink.pid),
            "kafka": ProcessSample(stack.stack.kafka.process.pid or 0),
            "redis": ProcessSample(stack.stack.redis.process.pid or 0),
            # Without children: every service here is a child of this process.
            "producer (benchmark process)": ProcessSample(os.getpid(), with_children=False),
        }
        lag = LagSampler(
            stack.bootstrap_servers, {processor_group: inputs, pipeline.sink_group: inputs}
        )
        sampler = threading.Thread(target=lag.run, daemon=True)
        sampler.start()
        produced, encoded = encode_traffic(config, pipeline.namespace)
        for sample in usage.values():
            sample.sample(first=True)
        load_before = os.getloadavg()
        started = time.monotonic()
        producer = threading.Thread(
            target=produce_paced, args=(pipeline.bootstrap, encoded, rate), daemon=True
        )
        producer.start()
        while producer.is_alive():
            for sample in usage.values():
                sample.sample()
            time.sleep(0.5)
        produced_at = time.monotonic()
        produced_s = produced_at - started
        processor_done = sink_done = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (processor_done is None or sink_done is None):
            for sample in usage.values():
                sample.sample()
            until = pipeline.finalized_until()
            if processor_done is None and until is not None and until > produced.settle_time:
                processor_done = time.monotonic() - started
            if sink_done is None and processor_done is not None and not pipeline.lake_behind():
                sink_done = time.monotonic() - started
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        lag.stop.set()
        sampler.join(5)
        messages = produced.messages
        caught_up = {
            name: lag.caught_up_at(group, produced_at)
            for name, group in (("processor", processor_group), ("sink", pipeline.sink_group))
        }
        lake = pipeline.lake_dir / pipeline.namespace
        load_after = os.getloadavg()
        metric_lat = metric_latencies(pipeline)
        delta_lat = delta_latencies(lake / "raw_events")
        floor_messages, floor = floor_rate(stack.bootstrap_servers, inputs)
        return {
            "rate": rate,
            "messages": messages,
            "produce_rate": messages / produced_s,
            # Consumed and committed everything (lag 0) this long after the first event.
            "processor_throughput": _rate(messages, caught_up["processor"], started),
            "sink_throughput": _rate(messages, caught_up["sink"], started),
            # From the last event produced until every window was final / in the lake.
            "final_metrics_after_s": None
            if processor_done is None
            else processor_done - produced_s,
            "lake_complete_after_s": None if sink_done is None else sink_done - produced_s,
            "lag": {
                name: (max(values, default=0), statistics.fmean(values) if values else 0)
                for name, values in (
                    ("processor", [v for _, v in lag.samples.get(processor_group, [])]),
                    ("sink", [v for _, v in lag.samples.get(pipeline.sink_group, [])]),
                )
            },
            "workers": workers,
            "load": (load_before, load_after),
            "metric_latency_s": (percentile(metric_lat.all, 0.5), percentile(metric_lat.all, 0.99)),
            "interactions_counted": (len(metric_lat.all), len(metric_lat.steady)),
            "metric_latency_steady_s": (
                percentile(metric_lat.steady, 0.5),
                percentile(metric_lat.steady, 0.99),
            ),
            "metric_latency_warmed_s": (
                percentile(metric_lat.warmed, 0.5),
                percentile(metric_lat.warmed, 0.99),
            ),
            "metric_p99_by_10s": {
                second: percentile(values, 0.99)
                for second, values in sorted(metric_lat.by_10s.items())
            },
            # Metrics records published per second of production (running updates, finals).
            "metrics_records_per_s": (
                metric_lat.running_updates / produced_s,
                metric_lat.finals / produced_s,
            ),
            "delta_latency_s": (percentile(delta_lat, 0.5), percentile(delta_lat, 0.99)),
            "usage": {
                name: ((s.cpu_end - s.cpu_start) / elapsed * 100, s.peak_rss_mb)
                for name, s in usage.items()
            },
            "floor": (floor_messages, floor),
        }
    finally:
        pipeline.stop_all()


def _rate(messages: int, done_at: float | None, started: float) -> float | None:
    return None if done_at is None else messages / (done_at - started)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory_kb / 1024 / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )


def report(results: list[dict[str, Any]]) -> str:
    def number(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    def pair(values: tuple[float, float], digits: int = 2) -> str:
        return f"{number(values[0], digits)} / {number(values[1], digits)}"

    lines = [
        "| target rate (ev/s) | workers | events | produced (ev/s) | processor (ev/s) "
        "| sink (ev/s) | lag max/mean, processor | lag max/mean, sink "
        "| event-to-metric p50 / p99 (s), input flowing "
        f"| the same after the first {WARMUP_S:.0f} s | event-to-metric p50 / p99 (s), all "
        "| interactions counted: all / input flowing "
        "| metrics records/s: running / final | event-to-Delta p50 / p99 (s) "
        "| all final / all in lake after (s) | floor: consume + decode (ev/s) "
        "| load average before / after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lag_p, lag_s = r["lag"]["processor"], r["lag"]["sink"]
        before, after = r["load"]
        lines.append(
            f"| {number(r['rate'])} | {r['workers']} | {r['messages']:,} "
            f"| {number(r['produce_rate'])} "
            f"| {number(r['processor_throughput'])} | {number(r['sink_throughput'])} "
            f"| {lag_p[0]:,} / {lag_p[1]:,.0f} | {lag_s[0]:,} / {lag_s[1]:,.0f} "
            f"| {pair(r['metric_latency_steady_s'])} | {pair(r['metric_latency_warmed_s'])} "
            f"| {pair(r['metric_latency_s'])} "
            f"| {r['interactions_counted'][0]:,} / {r['interactions_counted'][1]:,} "
            f"| {pair(r['metrics_records_per_s'], 1)} "
            f"| {pair(r['delta_latency_s'])} "
            f"| {number(r['final_metrics_after_s'], 1)} / {number(r['lake_complete_after_s'], 1)} "
            f"| {number(r['floor'][1])} "
            f"| {' '.join(f'{x:.1f}' for x in before)} / {' '.join(f'{x:.1f}' for x in after)} |"
        )
    lines.append("")
    for r in results:
        series = ", ".join(
            f"{second}-{second + 10} s {number(p99, 2)}"
            for second, p99 in r["metric_p99_by_10s"].items()
        )
        lines.append(
            f"event-to-metric p99 by 10 s of production at {number(r['rate'])} ev/s: {series}"
        )
    lines += ["", "| target rate (ev/s) | " + " | ".join(results[0]["usage"]) + " |"]
    lines.append("|---|" + "---|" * len(results[0]["usage"]))
    for r in results:
        cells = [f"{cpu:.0f}% CPU, {rss:.0f} MB" for cpu, rss in r["usage"].values()]
        lines.append(f"| {number(r['rate'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,2000,5000", help="events/s, comma-separated")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of production")
    parser.add_argument("--workers", type=int, default=1, help="processor workers in the group")
    parser.add_argument(
        "--processor-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a processor setting for this run (FEEDBACK_PROCESSOR_*), repeatable",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    processor_env = dict(item.split("=", 1) for item in args.processor_env)
    with tempfile.TemporaryDirectory(prefix="pipeline-report-") as tmp:
        stack = start_private_stack(Path(tmp) / "stack")
        try:
            results = []
            for rate in rates:
                print(
                    f"rate {rate:,.0f} events/s for {args.duration:.0f} s, {args.workers} "
                    f"worker(s), load average {os.getloadavg()[0]:.1f} ...",
                    flush=True,
                )
                results.append(
                    run_rate(
                        stack,
                        Path(tmp) / f"rate-{rate:.0f}",
                        rate,
                        args.duration,
                        args.workers,
                        processor_env,
                    )
                )
        finally:
            stack.down()
    print()
    print(f"machine: {machine()}")
    extra = "".join(f" --processor-env {item}" for item in args.processor_env)
    print(f"command: python benchmarks/pipeline_report.py --rates {args.rates} "
          f"--duration {args.duration:g} --workers {args.workers}{extra}")  # fmt: skip
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
