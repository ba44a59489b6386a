"""Replay throughput beside the live processor's, on the same traffic in the same run.

    python benchmarks/replay_throughput.py [--sessions 4000]

1. Fills a fresh source namespace with generator traffic.
2. Live: one processor worker (`python -m feedbackctl process`) over the source; events/s = input
   messages / time until its consumer group has committed every input offset.
3. Replay copy: `replay.topic_copy.copy_input_range` of the whole source into a new namespace.
4. Replay processing: one worker over the copy, timed the same way.
Replay end to end = copied events / (copy time + replay processing time). Needs the local stack.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time
import uuid

import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from feedbackctl.demo.lag import GroupLag
from local_stack.topics import ensure_topics
from plumbing.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_REDIS_URL
from producers.traffic import TrafficConfig, generate_traffic
from replay.settings import ReplaySettings
from replay.topic_copy import copy_input_range
from schemas.partitioning import PARTITIONER
from schemas.topics import INPUT_TOPICS, TOPICS
from stream_processors.settings import ProcessorSettings

BOOTSTRAP = os.environ.get("FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)
REDIS_URL = os.environ.get("FEEDBACK_PROCESSOR_REDIS_URL", DEFAULT_REDIS_URL)


def fill(namespace: str, sessions: int) -> int:
    ensure_topics(BOOTSTRAP, [spec.in_namespace(namespace) for spec in TOPICS])
    producer = Producer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "linger.ms": 20,
            "compression.type": "lz4",
            "partitioner": PARTITIONER,  # as the SDK
        }
    )
    count = 0
    for event in generate_traffic(TrafficConfig(sessions=sessions, seed=3)).events():
        producer.produce(event.topic.in_namespace(namespace).name, event.value(), event.key)
        count += 1
        if count % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    return count


def process(namespace: str, timeout_s: float = 900.0) -> float:
    """Seconds one worker takes to commit every input offset of the namespace."""
    ensure_topics(BOOTSTRAP, [spec.in_namespace(namespace) for spec in TOPICS])
    group = ProcessorSettings(namespace=namespace).group_id
    inputs = [spec.in_namespace(namespace).name for spec in INPUT_TOPICS]
    lag = GroupLag(BOOTSTRAP)
    worker = subprocess.Popen(
        [sys.executable, "-m", "feedbackctl", "process", "--namespace", namespace,
         "--loglevel", "warning"],
        env={**os.environ, "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": BOOTSTRAP,
             "FEEDBACK_PROCESSOR_REDIS_URL": REDIS_URL},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            time.sleep(0.5)
            # Inferred abandonment signals land on the input topic too: wait for them as well.
            if lag.lag(group, inputs) == 0 and time.monotonic() - started > 5:
                return time.monotonic() - started
        raise TimeoutError(f"worker on {namespace} did not catch up in {timeout_s}s")
    finally:
        worker.terminate()
        worker.wait(60)
        lag.close()


def cleanup(namespaces: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    names = [t for t in admin.list_topics(timeout=10).topics if any(ns in t for ns in namespaces)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(30)
    client = redis.Redis.from_url(REDIS_URL)
    for namespace in namespaces:
        prefix = ProcessorSettings(namespace=namespace).redis_prefix
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4000)
    args = parser.parse_args()
    source, target = f"bench{uuid.uuid4().hex[:8]}", f"bench{uuid.uuid4().hex[:8]}"
    try:
        events = fill(source, args.sessions)
        live_s = process(source)
        copied = copy_input_range(
            ReplaySettings(bootstrap_servers=BOOTSTRAP), target, source_namespace=source
        )
        replay_s = process(target)
    finally:
        cleanup([source, target])
    print(f"events generated: {events:,}; in the source after the live run: {copied.records:,}")
    print(f"{'stage':<34}{'seconds':>9}{'events/s':>11}")
    print(f"{'live processor (1 worker)':<34}{live_s:>9.1f}{events / live_s:>11,.0f}")
    print(f"{'replay copy (topics -> namespace)':<34}{copied.seconds:>9.1f}{copied.rate:>11,.0f}")
    print(f"{'replay processor (1 worker)':<34}{replay_s:>9.1f}{copied.records / replay_s:>11,.0f}")
    total = copied.seconds + replay_s
    print(f"{'replay end to end':<34}{total:>9.1f}{copied.records / total:>11,.0f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
