"""How fast the dashboard takes metric records in and serves snapshots.

Stages, each timed on the same encoded QualityMetric messages (a realistic mix: running updates and
final records, duplicates, several agent versions):
  decode      `serializer.decode` alone: the floor of any Python consumer of the topic
  ingest      decode + `DashboardState.add_metric` (what the feed thread does per record)
  snapshot    building the JSON snapshot and encoding it (what each push costs), at the end state
With --kafka, also end to end against the local broker: produce the messages into a fresh namespace,
start the feed, and time until it has read them all.

    python benchmarks/dashboard_throughput.py
    python benchmarks/dashboard_throughput.py --records 200000 --agents 20 --kafka
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from dashboard.feed import MetricsFeed
from dashboard.live import LiveState
from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState
from dashboard.telemetry import DashboardTelemetry
from schemas.serializer import serializer_for
from schemas.topics import METRICS
from tests.unit.dashboard.records import metric_record


def _messages(records: int, agents: int, seed: int = 7) -> list[bytes]:
    """Per agent version and minute: a few running updates, then the final record (some twice)."""
    rng = random.Random(seed)
    serializer = serializer_for(METRICS)
    out: list[bytes] = []
    minute = 0
    while len(out) < records:
        for agent in range(agents):
            version = f"1.{agent}.0"
            updates = rng.randint(2, 6)
            for seq in range(updates + 1):
                final = seq == updates
                record = metric_record(
                    minute,
                    f"agent-{agent % 5}",
                    version,
                    interactions=rng.randint(5, 80),
                    is_final=final,
                    update_seq=seq,
                    latency_p95_ms=rng.uniform(500, 9000),
                )
                out.append(serializer.encode(record))
                if final and rng.random() < 0.05:
                    out.append(out[-1])  # a duplicate after a processor restart
        minute += 1
    return out[:records]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=8, help="Agent versions.")
    parser.add_argument("--kafka", action="store_true", help="Also time the feed on the broker.")
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:19092")
    args = parser.parse_args()

    messages = _messages(args.records, args.agents)
    serializer = serializer_for(METRICS)
    print(f"{len(messages):,} QualityMetric messages, {args.agents} agent versions")

    started = time.perf_counter()
    for message in messages:
        serializer.decode(message)
    decode_s = time.perf_counter() - started
    print(f"decode only (floor):      {decode_s:6.2f} s  {_rate(len(messages), decode_s)}")

    state = DashboardState()
    started = time.perf_counter()
    for message in messages:
        state.add_metric(serializer.decode(message))
    ingest_s = time.perf_counter() - started
    print(f"decode + add_metric:      {ingest_s:6.2f} s  {_rate(len(messages), ingest_s)}")

    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        body = json.dumps(state.snapshot(), separators=(",", ":"))
    snapshot_s = (time.perf_counter() - started) / rounds
    print(
        f"snapshot + JSON:          {snapshot_s * 1000:6.1f} ms per push "
        f"({len(state.windows):,} windows held, {len(body) / 1024:,.0f} KiB)"
    )
    if args.kafka:
        _end_to_end(messages, args.bootstrap_servers)


def _end_to_end(messages: list[bytes], bootstrap_servers: str) -> None:
    from confluent_kafka import Producer

    from tests.unit.dashboard.kafka_io import namespace_topics

    with namespace_topics(bootstrap_servers) as namespace:
        topic = METRICS.in_namespace(namespace).name
        producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 20})
        for message in messages:
            producer.produce(topic, message)
            producer.poll(0)
        producer.flush(60)
        settings = DashboardSettings(
            bootstrap_servers=bootstrap_servers,
            namespace=namespace,
            group_id=f"bench-{namespace}",
            backfill_messages=len(messages),
        )
        live = LiveState(DashboardState())
        feed = MetricsFeed(settings, live, DashboardTelemetry(CollectorRegistry()))
        started = time.perf_counter()
        feed.start()
        deadline = started + 300
        while feed.status.records[topic] < len(messages) and time.perf_counter() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        read = feed.status.records[topic]
        feed.stop()
        print(
            f"feed on the broker:       {elapsed:6.2f} s  {_rate(read, elapsed)} "
            f"({read:,} of {len(messages):,} read, start-up and assignment included)"
        )


if __name__ == "__main__":
    main()
