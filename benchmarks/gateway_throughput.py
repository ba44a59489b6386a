"""Gateway throughput and acknowledgement latency, beside the SDK's direct rate in the same run.

    python benchmarks/gateway_throughput.py --seconds 15 --rate 5000

Starts one gateway process (`python -m feedbackctl gateway`) on a namespace of its own, with an
API key whose rate limit is out of the way, then measures from this process (the client):

- batches:  events/s acknowledged (202: in Kafka) when `--connections` clients post batches of
            `--batch` events back to back for `--seconds`
- latency:  p50 / p99 / max of the time from sending a request to its 202, open loop at `--rate`
            events/s in batches of `--latency-batch` (requests are sent on schedule whether or
            not earlier ones were answered)
- sdk:      FeedbackClient.send() of the same events, then flush (all delivered): the SDK's
            direct rate in the same run, on the same machine

Events come from the traffic generator (interactions with tools and reasoning, feedback,
signals), their event times moved to now. Prints os.getloadavg() with the numbers: the machine
is shared, so compare figures of one run. Needs the local stack (`feedbackctl stack up`).
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from confluent_kafka.admin import AdminClient

from gateway.keys import KeyFile
from local_stack.topics import ensure_topics
from producers.client import FeedbackClient, ProducerTopics
from producers.settings import ProducerSettings
from producers.traffic import TrafficConfig, generate_traffic
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TOPICS
from tests.ports import free_port

AGENT = "bench-agent"
_KINDS = {INTERACTIONS.name: "interaction", FEEDBACK.name: "feedback", SIGNALS.name: "signal"}


def events(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` generated events as /v1/events items, event times shifted to end now."""
    found: list[dict[str, Any]] = []
    for event in generate_traffic(TrafficConfig(sessions=max(1, count // 4), seed=seed)).events():
        if event.record is not None and event.topic.name in _KINDS:
            found.append({"type": _KINDS[event.topic.name], **event.record})
        if len(found) >= count:
            break
    shift = time.time_ns() // 1_000_000 - 60_000 - max(e["event_time"] for e in found)
    for item in found:
        item["event_time"] += shift
        if item["type"] == "interaction":
            item["agent_id"] = AGENT
    return found


def fresh_ids(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events with new event ids (each post is new events, not a retry)."""
    return [{**item, "event_id": str(uuid.uuid4())} for item in batch]


async def post_batches(
    url: str, key: str, batches: list[bytes], seconds: float, connections: int
) -> tuple[int, float]:
    """Events acknowledged with 202 by `connections` clients posting back to back."""
    accepted = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal accepted
        i = offset
        while time.monotonic() < deadline:
            async with session.post(url, data=batches[i % len(batches)], headers=headers) as r:
                answer = await r.json()
                if r.status != 202:
                    raise SystemExit(f"gateway answered {r.status}: {str(answer)[:300]}")
                accepted += len(answer["accepted"])
            i += connections

    connector = aiohttp.TCPConnector(limit=connections)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session, n) for n in range(connections)))
    return accepted, time.monotonic() - started


async def open_loop(
    url: str, key: str, batches: list[bytes], rate: float, batch: int, seconds: float
) -> list[float]:
    """Acknowledgement latency (ms) of requests sent on a fixed schedule."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    interval = batch / rate
    latencies: list[float] = []
    errors: list[str] = []

    async def one(session: aiohttp.ClientSession, body: bytes) -> None:
        sent = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as r:
            await r.read()
            if r.status != 202:
                errors.append(f"{r.status}")
        latencies.append((time.perf_counter() - sent) * 1000)

    connector = aiohttp.TCPConnector(limit=0)
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm the connection pool, then send on schedule.
        await asyncio.gather(*(one(session, batches[i]) for i in range(8)))
        latencies.clear()
        start = time.perf_counter()
        n = 0
        while (now := time.perf_counter()) - start < seconds:
            due = start + n * interval
            if due > now:
                await asyncio.sleep(due - now)
            tasks.append(asyncio.create_task(one(session, batches[n % len(batches)])))
            n += 1
        await asyncio.gather(*tasks)
    if errors:
        raise SystemExit(f"{len(errors)} requests were not 202: {errors[:5]}")
    return latencies


def sdk_rate(items: list[dict[str, Any]], namespace: str, spool: Path) -> tuple[float, float]:
    """Events/s and CPU µs/event of FeedbackClient.send for every event, then flush."""
    topics = ProducerTopics.in_namespace(namespace)
    specs = {
        "interaction": topics.interactions,
        "feedback": topics.feedback,
        "signal": topics.signals,
    }
    records = [({**i, "event_id": str(uuid.uuid4())}, specs[i["type"]]) for i in items]
    for record, _ in records:
        del record["type"]
    settings = ProducerSettings(topic_namespace=namespace, spool_dir=spool)
    with FeedbackClient(settings) as client:
        started, cpu = time.perf_counter(), cpu_seconds(os.getpid())
        for record, spec in records:
            client.send(spec, record)
        assert client.flush() == 0
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(os.getpid()) - cpu
    return len(records) / elapsed, cpu * 1e6 / len(records)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the gateway was not ready in 60 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--latency-batch", type=int, default=100)
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:19092")
    parser.add_argument("--sdk-events", type=int, default=50_000)
    args = parser.parse_args()

    namespace = f"gwbench{uuid.uuid4().hex[:8]}"
    specs = [spec.in_namespace(namespace) for spec in TOPICS]
    ensure_topics(args.bootstrap_servers, specs)
    pool = events(4000, seed=19)
    batches = [
        orjson.dumps(fresh_ids(pool[i : i + args.batch]))
        for i in range(0, 40 * args.batch, args.batch)
    ]
    small = [
        orjson.dumps(fresh_ids(pool[i : i + args.latency_batch]))
        for i in range(0, len(pool) - args.latency_batch + 1, args.latency_batch)
    ]
    with tempfile.TemporaryDirectory(prefix="gwbench-") as tmp:
        work = Path(tmp)
        keys = KeyFile(work / "keys.json")
        _, key = keys.add(AGENT, rate_per_s=1e9, burst=1_000_000, label="benchmark")
        port = free_port()
        env = {
            **os.environ,
            "FEEDBACK_GATEWAY_PORT": str(port),
            "FEEDBACK_GATEWAY_TOPIC_NAMESPACE": namespace,
            "FEEDBACK_GATEWAY_BOOTSTRAP_SERVERS": args.bootstrap_servers,
            "FEEDBACK_GATEWAY_KEYS_FILE": str(work / "keys.json"),
            "FEEDBACK_GATEWAY_SPOOL_DIR": str(work / "spool"),
            "FEEDBACK_GATEWAY_LOG_LEVEL": "WARNING",
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "feedbackctl", "gateway"], env=env, cwd=Path(__file__).parents[1]
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, gateway)
            load_before = os.getloadavg()
            # Each batch is posted many times: same event ids, which is what a retry looks
            # like; the gateway does not deduplicate (the pipeline does), so it costs the same.
            cpu_before = cpu_seconds(gateway.pid)
            accepted, elapsed = asyncio.run(
                post_batches(f"{base}/v1/events", key, batches, args.seconds, args.connections)
            )
            gateway_cpu = cpu_seconds(gateway.pid) - cpu_before
            latencies = asyncio.run(
                open_loop(
                    f"{base}/v1/events", key, small, args.rate, args.latency_batch, args.seconds
                )
            )
            sdk, sdk_cpu = sdk_rate(
                pool[: min(len(pool), args.sdk_events)] * max(1, args.sdk_events // len(pool)),
                namespace,
                work / "sdk-spool",
            )
            load_after = os.getloadavg()
        finally:
            gateway.terminate()
            gateway.wait(timeout=60)
            admin = AdminClient({"bootstrap.servers": args.bootstrap_servers})
            for future in admin.delete_topics([s.name for s in specs]).values():
                with contextlib.suppress(Exception):  # best effort clean-up
                    future.result(timeout=30)

    print(
        f"load average before {tuple(round(x, 2) for x in load_before)}, "
        f"after {tuple(round(x, 2) for x in load_after)} ({os.cpu_count()} CPUs)"
    )
    print(
        f"gateway, batches of {args.batch}, {args.connections} connections, {args.seconds:g}s: "
        f"{accepted / elapsed:,.0f} events/s acknowledged ({accepted} events); gateway process "
        f"CPU {gateway_cpu * 1e6 / max(accepted, 1):.1f} µs/event (all threads)"
    )
    print(
        f"gateway, open loop {args.rate:,.0f} events/s in batches of {args.latency_batch}: "
        f"{len(latencies)} requests, ack latency p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
    )
    print(
        f"sdk direct (FeedbackClient.send + flush): {sdk:,.0f} events/s, CPU {sdk_cpu:.1f} µs/event"
    )
    print("targets: >= 20,000 events/s in batches; p99 < 50 ms at 5,000 events/s")


if __name__ == "__main__":
    main()
