"""Stream processor throughput and event-to-metric latency, with the floors measured alongside.

    python benchmarks/processor_throughput.py [--sessions 8000] [--rate 5000] [--seconds 30]

1. Fills a fresh namespace with generator traffic (good records only) as fast as it can.
2. Floor: raw consume + Avro decode of the same three topics (confluent-kafka, one process).
3. Faust floors: a no-op Faust app over the same topics, once as an agent on Faust's own fetcher
   and stream (`take_events`), once through the worker's `RecordBatchTransport` (one call per
   fetched batch): what each path alone delivers on this machine.
4. Processor: one worker (`python -m stream_processors`) from a cold start; throughput =
   events / time from its first checkpoint to the checkpoint reaching the end of every input,
   and the worker's CPU time per event over the same stretch (steadier than events/s when the
   machine's speed varies).
5. Latency: a fresh namespace, `--latency-workers` running workers (default 1), generator
   traffic produced at `--rate` events/s with event time = wall clock (generated and encoded
   before it starts), measured over `--seconds` after a 20 s warm-up (until the first sessions
   end, fewer are live than at that rate); for every running metric update, latency =
   the update's Kafka timestamp minus the produce time of the newest interaction it covers (the
   update's `interactions` count, taken in event-time order, of its agent version and window).
   Reported over all updates, and over those published while input was still flowing: when
   input stops, the last second of events waits for the idle timeout (the watermark's
   end-of-input rule).
Needs the local stack (`feedbackctl stack up`). Prints a table; numbers are noisy on a shared
2-core machine, so run it more than once.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from local_stack.topics import ensure_topics
from plumbing.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_REDIS_URL
from producers.traffic import TrafficConfig, generate_traffic
from schemas.partitioning import PARTITIONER
from schemas.serializer import serializer_for
from schemas.topics import INPUT_TOPICS, INTERACTIONS, METRICS, TOPICS
from stream_processors.settings import ProcessorSettings

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)
REDIS_URL = os.environ.get("FEEDBACK_PROCESSOR_REDIS_URL", DEFAULT_REDIS_URL)


_CREATED: list[str] = []


def _namespace() -> str:
    name = f"procbench{uuid.uuid4().hex[:8]}"
    ensure_topics(BOOTSTRAP, [spec.in_namespace(name) for spec in TOPICS])
    _CREATED.append(name)
    return name


def _cleanup() -> None:
    """Delete the benchmark's topics (its own and the workers' Faust topics) and Redis keys."""
    from confluent_kafka.admin import AdminClient

    if not _CREATED:
        return
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    names = [t for t in admin.list_topics(timeout=10).topics if any(n in t for n in _CREATED)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.exception(60)
    client = redis.Redis.from_url(REDIS_URL)
    for name in _CREATED:
        prefix = ProcessorSettings(namespace=name).redis_prefix
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


def _producer() -> Producer:
    return Producer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "linger.ms": 5,
            "compression.type": "lz4",
            "partitioner": PARTITIONER,  # as the SDK
        }
    )


def fill(namespace: str, sessions: int) -> int:
    config = TrafficConfig(sessions=sessions, seed=5, max_feedback_delay_s=600)
    producer, count = _producer(), 0
    for event in generate_traffic(config).events():
        producer.produce(event.topic.in_namespace(namespace).name, event.value(), event.key)
        count += 1
        if count % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    return count


def raw_floor(namespace: str) -> float:
    """Events/s of consume + decode_with_writer of every input message, one process."""
    consumer = Consumer(
        {"bootstrap.servers": BOOTSTRAP, "group.id": f"floor-{uuid.uuid4().hex[:6]}",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )  # fmt: skip
    ends, assignment, serializers = {}, [], {}
    for spec in INPUT_TOPICS:
        topic = spec.in_namespace(namespace).name
        serializers[topic] = serializer_for(spec)
        for partition in range(spec.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            if high > low:
                ends[(topic, partition)] = high - 1
                assignment.append(TopicPartition(topic, partition, low))
    consumer.assign(assignment)
    count, started, remaining = 0, None, set(ends)
    while remaining:
        for message in consumer.consume(10_000, timeout=1):
            if message.error():
                continue
            started = started or time.perf_counter()
            serializers[message.topic()].decode_with_writer(message.value())
            count += 1
            if message.offset() >= ends[(message.topic(), message.partition())]:
                remaining.discard((message.topic(), message.partition()))
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return count / elapsed if elapsed else 0.0


def faust_noop(namespace: str, total: int, path: str) -> float:
    """Events/s of a Faust app that only counts what it receives (subprocess); `path` is
    "stream" (an agent: Faust's fetcher and `take_events`) or "batches" (the worker's
    transport handing over whole fetches)."""
    output = subprocess.run(
        [sys.executable, __file__, "--faust-noop", namespace, str(total), path],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    for line in (output.stdout + output.stderr).splitlines():
        if "NOOP_RATE " in line:  # Faust sends prints through its logging (stderr)
            return float(line.split("NOOP_RATE ", 1)[1].split()[0])
    raise RuntimeError(f"no-op Faust agent failed:\n{output.stdout[-2000:]}{output.stderr[-2000:]}")


def _run_faust_noop(namespace: str, total: int, path: str) -> None:
    import faust

    from stream_processors.batch_transport import RecordBatchTransport

    app = faust.App(
        f"bench-noop-{path}-{namespace}", broker=f"kafka://{BOOTSTRAP}",
        consumer_auto_offset_reset="earliest", web_enabled=False,
        datadir=os.path.join(tempfile.gettempdir(), "processor-bench-noop"),
        broker_max_poll_records=5000,
    )  # fmt: skip
    topic = app.topic(
        *(spec.in_namespace(namespace).name for spec in INPUT_TOPICS),
        key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    seen = {"n": 0, "t0": 0.0}

    def counted(n: int) -> None:
        seen["t0"] = seen["t0"] or time.perf_counter()
        seen["n"] += n
        if seen["n"] >= total:
            print(f"NOOP_RATE {seen['n'] / (time.perf_counter() - seen['t0']):.0f}", flush=True)
            os._exit(0)

    if path == "batches":
        transport = RecordBatchTransport(app.conf.broker_consumer, app)
        app.transport = transport
        app.topics.add(topic)

        async def count_batch(records: Any) -> None:
            counted(len(records))

        transport.hand_records_to(count_batch)
    else:

        @app.agent(topic)
        async def count(stream: Any) -> None:
            async for events in stream.take_events(5000, within=0.1):
                counted(len(events))

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


def _worker(namespace: str, log: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, **extra_env}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "stream_processors", "--namespace", namespace,
             "--loglevel", "info"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _checkpointed(namespace: str) -> int:
    """Input messages checkpointed by the processor, summed over partitions."""
    prefix = ProcessorSettings(namespace=namespace).redis_prefix
    client = redis.Redis.from_url(REDIS_URL)
    total = 0
    for partition in range(INTERACTIONS.partitions):
        raw = client.hget(f"{prefix}:t:progress:{partition}", str(partition).encode())
        if raw:
            total += sum(offset + 1 for offset in orjson.loads(raw)["offsets"].values())
    return total


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processor_rate(namespace: str, total: int, log: Path) -> tuple[float, float, str]:
    """(events/s, the worker's CPU µs per event, its step timings) over the backlog.

    CPU per event moves less than events/s when the machine's speed varies (a shared VM)."""
    worker = _worker(namespace, log, {})
    try:
        started = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = _checkpointed(namespace)
            if done and started is None:
                started, first, cpu_first = time.perf_counter(), done, _cpu_seconds(worker.pid)
            if done >= total:
                assert started is not None
                rate = (done - first) / (time.perf_counter() - started)
                cpu_us = (_cpu_seconds(worker.pid) - cpu_first) / (done - first) * 1e6
                return rate, cpu_us, _last_timings(log)
            time.sleep(0.2)
        raise RuntimeError(f"processor did not finish; see {log}")
    finally:
        worker.terminate()
        worker.wait(30)


def _last_timings(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "step seconds" in line]
    return lines[-1].split("step seconds", 1)[1].strip() if lines else "(no stats line yet)"


_PLAN_AHEAD_S = 40  # traffic starts this long after the worker: generating it takes ~15 s
_WARM_UP_S = 20.0  # sessions last ~15 s here: before that, fewer are live than at steady state


def latency(rate: int, seconds: float, log: Path, workers: int = 1) -> dict[str, float]:
    """Event-to-metric latency (ms) of running updates at `rate` input events/s.

    Traffic runs for a warm-up of `_WARM_UP_S`, then `seconds`: only the second part is measured
    (its input rate, and the updates whose newest interaction was produced in it), because the
    generator starts sessions at a steady rate and the event rate reaches `rate` only once the
    first sessions end.
    """
    namespace = _namespace()
    group = [
        _worker(namespace, log.with_name(f"{log.stem}-{n}{log.suffix}") if n else log, {})
        for n in range(workers)
    ]
    metrics_seen: list[tuple[dict[str, Any], int]] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_metrics, args=(namespace, metrics_seen, stop))
    reader.start()
    try:
        # Generated and encoded in advance (while the worker joins its group), so that producing
        # costs the machine little more than the produce calls: generating on the fly took
        # most of a core beside the worker.
        start_ms = int(time.time() * 1000) + _PLAN_AHEAD_S * 1000
        measured_from = start_ms + int(_WARM_UP_S * 1000)
        total_s = _WARM_UP_S + seconds
        per_session = 4.9  # mean events per generated session with these settings (measured)
        config = TrafficConfig(
            sessions=int(rate * total_s / per_session * 3), seed=9, start_time_ms=start_ms,
            sessions_per_second=rate / per_session, max_turn_gap_s=5, min_turn_gap_s=1,
            max_feedback_delay_s=20, abandon_after_s=600,
        )  # fmt: skip
        end_ms = measured_from + int(seconds * 1000)
        planned = _planned(config, namespace, end_ms)
        if time.time() * 1000 > start_ms - 2000:
            raise RuntimeError(f"generating the traffic took longer than {_PLAN_AHEAD_S} s")
        produced_at: dict[tuple[str, str, int], list[tuple[int, float]]] = defaultdict(list)
        window_ms = ProcessorSettings().metrics_window_s * 1000
        producer, sent = _producer(), 0
        for event_time, topic, key, value, agent in planned:
            delay = (event_time - time.time() * 1000) / 1000
            if delay > 0:
                producer.poll(0)
                time.sleep(delay)
            producer.produce(topic, value, key)
            sent += event_time >= measured_from
            if agent is not None:
                window = event_time - event_time % window_ms
                produced_at[(*agent, window)].append((event_time, time.time() * 1000))
        producer.flush(30)
        input_ended = time.time() * 1000
        achieved = sent / seconds
        time.sleep(6)
    finally:
        stop.set()
        reader.join()
        for worker in group:
            worker.terminate()
        for worker in group:
            worker.wait(30)
    samples, steady = [], []
    for record, timestamp in metrics_seen:
        if record["is_final"] or not record["interactions"]:
            continue
        key = (record["agent_id"], record["agent_version"], record["window_start"])
        covered = sorted(produced_at.get(key, []))[: record["interactions"]]
        if covered and max(event_time for event_time, _ in covered) >= measured_from:
            samples.append(timestamp - max(at for _, at in covered))
            if timestamp <= input_ended:
                steady.append(samples[-1])
    result = {"achieved_rate": achieved, "updates": len(samples)}
    for name, values in (("", samples), ("steady_", steady)):
        cuts = statistics.quantiles(values, n=100) if len(values) >= 2 else [float("nan")] * 99
        result[f"{name}p50"], result[f"{name}p99"] = cuts[49], cuts[98]
    return result


def _planned(
    config: TrafficConfig, namespace: str, end_ms: int
) -> list[tuple[int, str, bytes | None, bytes, tuple[str, str] | None]]:
    """The messages to produce before `end_ms` (event time): (event time, topic, key, value,
    agent and version of an interaction, else None)."""
    planned = []
    for event in generate_traffic(config).events():
        if event.event_time >= end_ms:
            break
        record = event.record if event.topic is INTERACTIONS else None
        agent = (record["agent_id"], record["agent_version"]) if record else None
        topic = event.topic.in_namespace(namespace).name
        planned.append((event.event_time, topic, event.key, event.value(), agent))
    return planned


def _read_metrics(namespace: str, out: list[tuple[dict[str, Any], int]], stop: Any) -> None:
    serializer = serializer_for(METRICS)
    consumer = Consumer(
        {"bootstrap.servers": BOOTSTRAP, "group.id": f"lat-{uuid.uuid4().hex[:6]}",
         "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([METRICS.in_namespace(namespace).name])
    while not stop.is_set():
        for message in consumer.consume(500, timeout=0.5):
            if not message.error():
                out.append((serializer.decode(message.value()), message.timestamp()[1]))
    consumer.close()


def _join_logic() -> str:
    """Whether the workers ran the mypyc-compiled join logic (docs/compiled.md): they import
    it as this process does, from the same tree and environment."""
    from stream_processors import COMPILED_MODULES

    if COMPILED_MODULES:
        return "compiled"
    print("the join logic runs as pure Python: `make setup` compiles it (docs/compiled.md)")
    return "pure Python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8000)
    parser.add_argument("--rate", type=int, default=5000, help="input events/s for latency")
    parser.add_argument("--seconds", type=float, default=30.0, help="latency run length")
    parser.add_argument("--latency-only", action="store_true", help="skip steps 1-4")
    parser.add_argument(
        "--latency-workers", type=int, default=1, help="workers in the latency run's group"
    )
    parser.add_argument("--faust-noop", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.faust_noop:
        _run_faust_noop(args.faust_noop[0], int(args.faust_noop[1]), args.faust_noop[2])
        return
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "processor-bench"
    logs.mkdir(parents=True, exist_ok=True)
    nan = float("nan")
    total, floor, noop, noop_batches, rate, cpu_us = 0, nan, nan, nan, nan, nan
    timings = "(skipped)"
    try:
        if not args.latency_only:
            namespace = _namespace()
            total = fill(namespace, args.sessions)
            floor = raw_floor(namespace)
            noop = faust_noop(namespace, total, "stream")
            noop_batches = faust_noop(namespace, total, "batches")
            rate, cpu_us, timings = processor_rate(namespace, total, logs / "throughput-worker.log")
        measured = latency(
            args.rate, args.seconds, logs / "latency-worker.log", args.latency_workers
        )
    finally:
        _cleanup()
    print(f"\nprocessor benchmark ({total} input events, {args.sessions} sessions, 1 worker)")
    print(f"{'measure':<48}{'value':>14}")
    print(f"{'raw consume + Avro decode (floor), events/s':<48}{floor:>14,.0f}")
    print(f"{'Faust no-op, agent on Faust stream, events/s':<48}{noop:>14,.0f}")
    print(f"{'Faust no-op, record batches, events/s':<48}{noop_batches:>14,.0f}")
    print(f"{'processor (join + metrics + Redis), events/s':<48}{rate:>14,.0f}")
    print(f"{'  its worker CPU per event, µs':<48}{cpu_us:>14,.1f}")
    print(f"{'  its join logic':<48}{_join_logic():>14}")
    print(f"{'latency run: workers in the group':<48}{args.latency_workers:>14}")
    print(f"{'latency run: input rate achieved, events/s':<48}{measured['achieved_rate']:>14,.0f}")
    print(f"{'latency run: running metric updates measured':<48}{measured['updates']:>14,.0f}")
    print(f"{'event-to-metric latency p50, ms':<48}{measured['p50']:>14,.0f}")
    print(f"{'event-to-metric latency p99, ms':<48}{measured['p99']:>14,.0f}")
    print(f"{'  same, while input still flows: p50':<48}{measured['steady_p50']:>14,.0f}")
    print(f"{'  same, while input still flows: p99':<48}{measured['steady_p99']:>14,.0f}")
    print(f"processor step seconds (cumulative, throughput run): {timings}")
    print(f"worker logs: {logs}")


if __name__ == "__main__":
    main()
