"""The sink on the real stack: N events in, exactly N rows out, through crashes and rebalances."""

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from deltalake import DeltaTable

from producers.traffic import TrafficConfig, generate_traffic
from schemas import serializer_for
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, QUALITY_METRICS, RAW_EVENTS
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, INTERACTIONS, METRICS, TopicSpec
from sinks import DeltaSink, SinkSettings
from sinks.crash_points import CRASH_ENV
from tests.unit.sinks.events import (
    START_MS,
    OutgoingEvent,
    dead_letter,
    enriched,
    metric,
    produce,
    session_events,
)

SINK_TOPICS: tuple[TopicSpec, ...] = (*INPUT_TOPICS, ENRICHED, METRICS, DEADLETTER)
PRODUCERS: list[threading.Thread] = []


def wait_for_producers() -> None:
    while PRODUCERS:
        PRODUCERS.pop().join(timeout=120)


def writer_pids(lake: Path, namespace: str) -> set[str]:
    """Processes that committed to raw_events (from the commits' custom metadata)."""
    history = DeltaTable(table_path(lake, namespace, RAW_EVENTS.name)).history()
    return {commit["sink_pid"] for commit in history if "sink_pid" in commit}


@contextlib.contextmanager
def sink_topics(bootstrap_servers: str) -> Iterator[str]:
    """A namespace with every topic the sink reads, created for one test and deleted after."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    topics = [spec.in_namespace(name) for spec in SINK_TOPICS]
    futures = admin.create_topics([NewTopic(t.name, t.partitions, 1) for t in topics])
    for future in futures.values():
        future.result(timeout=30)
    yield name
    for future in admin.delete_topics([t.name for t in topics], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    with sink_topics(bootstrap_servers) as name:
        yield name


def produce_mix(
    bootstrap_servers: str,
    namespace: str,
    sessions: int,
    over_s: float = 0.0,
    release: threading.Event | None = None,
) -> dict[str, int]:
    """Input sessions (with a few garbage messages), enriched turns, metrics and dead letters,
    spread over `over_s` seconds (in a background thread when > 0; with `release`, everything
    after the first tenth waits until it is set).

    Returns the rows each table must end up with.
    """
    enriched_encode = serializer_for(ENRICHED).encode
    metrics_encode = serializer_for(METRICS).encode
    dead_encode = serializer_for(DEADLETTER).encode

    def events() -> Iterator[OutgoingEvent]:
        for i, event in enumerate(session_events(sessions)):
            yield event
            if i % 97 == 0:
                yield OutgoingEvent(INTERACTIONS, None, b"\x00garbage")
        for i in range(sessions):
            key = f"session-{i:06d}".encode()
            record = enriched(key.decode(), 0, f"user-{i % 5}", START_MS + i * 1000)
            yield OutgoingEvent(ENRICHED, key, enriched_encode(record))
            if i % 50 == 0:
                yield OutgoingEvent(ENRICHED, key, b"\xc3\x01truncated")
            if i % 10 == 0:
                yield OutgoingEvent(METRICS, b"bot/1.0", metrics_encode(metric("1.0", START_MS, i)))
            if i % 40 == 0:
                yield OutgoingEvent(
                    DEADLETTER, key, dead_encode(dead_letter("agent.feedback.v1", i, b"\xff"))
                )

    produced: dict[str, int] = {}
    all_events = list(events())
    for event in all_events:
        produced[event.topic.name] = produced.get(event.topic.name, 0) + 1
    topics = {spec.name: spec.in_namespace(namespace) for spec in SINK_TOPICS}
    if over_s <= 0:
        produce(bootstrap_servers, all_events, topics)
    else:
        waves = 10
        size = len(all_events) // waves + 1

        def paced() -> None:
            for start in range(0, len(all_events), size):
                if start == size and release is not None:
                    release.wait(timeout=120)
                produce(bootstrap_servers, all_events[start : start + size], topics)
                time.sleep(over_s / waves)

        producer = threading.Thread(target=paced, daemon=True)
        producer.start()
        PRODUCERS.append(producer)
    bad_enriched = len(range(0, sessions, 50))
    return {
        RAW_EVENTS.name: sum(produced.get(t.name, 0) for t in INPUT_TOPICS),
        ENRICHED_INTERACTIONS.name: sessions,
        QUALITY_METRICS.name: produced[METRICS.name],
        DEAD_LETTERS.name: produced[DEADLETTER.name] + bad_enriched,
    }


def table_path(lake: Path, namespace: str, table: str) -> str:
    return f"{lake}/{namespace}/{table}"


def lake_rows(lake: Path, namespace: str) -> dict[str, tuple[int, int]]:
    """Per table: rows, and distinct (kafka_topic, kafka_partition, kafka_offset)."""
    out = {}
    for table in (RAW_EVENTS, ENRICHED_INTERACTIONS, QUALITY_METRICS, DEAD_LETTERS):
        path = table_path(lake, namespace, table.name)
        if not DeltaTable.is_deltatable(path):
            out[table.name] = (0, 0)
            continue
        data = DeltaTable(path).to_pyarrow_table(
            columns=["kafka_topic", "kafka_partition", "kafka_offset"]
        )
        distinct = data.group_by(["kafka_topic", "kafka_partition", "kafka_offset"]).aggregate([])
        out[table.name] = (data.num_rows, distinct.num_rows)
    return out


def exact(expected: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (count, count) for name, count in expected.items()}


def sink_command(
    lake: Path, namespace: str, group: str, idle_s: float = 3.0
) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "FEEDBACK_SINK_LAKE_URI": str(lake),
        "FEEDBACK_SINK_NAMESPACE": namespace,
        "FEEDBACK_SINK_GROUP_ID": group,
        "FEEDBACK_SINK_FLUSH_ROWS": "700",
        "FEEDBACK_SINK_FLUSH_LATENCY_S": "0.5",
        "FEEDBACK_SINK_CONSUME_BATCH": "300",
        "FEEDBACK_SINK_SESSION_TIMEOUT_MS": "6000",
    }
    env.pop(CRASH_ENV, None)
    command = [sys.executable, "-m", "feedbackctl", "sink", "--exit-when-idle", str(idle_s)]
    return [*command, "--log-level", "WARNING"], env


def run_sink(
    lake: Path, namespace: str, group: str | None = None, crash_at: str | None = None
) -> int:
    """Run a sink process to completion (or to its crash); returns its exit code."""
    command, env = sink_command(lake, namespace, group or f"g-{uuid.uuid4().hex[:8]}")
    if crash_at:
        env[CRASH_ENV] = crash_at
    done = subprocess.run(command, env=env, capture_output=True, timeout=180)
    if done.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(done.stderr.decode()[-3000:])
    return done.returncode


def orphan_files(lake: Path, namespace: str) -> int:
    """Data files on disk that no Delta version references: what a crash mid-commit leaves."""
    orphans = 0
    for table in (RAW_EVENTS, ENRICHED_INTERACTIONS, QUALITY_METRICS, DEAD_LETTERS):
        root = Path(table_path(lake, namespace, table.name))
        if not root.exists():
            continue
        referenced = {
            Path(uri.removeprefix("file://")).resolve() for uri in DeltaTable(str(root)).file_uris()
        }
        # A file still being written has a staging name (`<name>.parquet#1`): every name counts.
        on_disk = {
            p.resolve() for p in root.rglob("*") if p.is_file() and "_delta_log" not in p.parts
        }
        orphans += len(on_disk - referenced)
    return orphans


def test_every_event_lands_exactly_once_and_opens_in_polars(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    expected = produce_mix(bootstrap_servers, namespace, sessions=400)
    assert run_sink(tmp_path, namespace) == 0
    assert lake_rows(tmp_path, namespace) == exact(expected)
    raw = DeltaTable(table_path(tmp_path, namespace, RAW_EVENTS.name)).to_pyarrow_table()
    garbage = [e for e in raw["decode_error"].to_pylist() if e]
    assert garbage and all(e.startswith("undecodable") for e in garbage)
    dead = DeltaTable(table_path(tmp_path, namespace, DEAD_LETTERS.name)).to_pyarrow_table()
    made_by_sink = [r for r in dead.to_pylist() if r["detected_by"] == "sink"]
    assert made_by_sink and all(r["source_topic"].startswith(ENRICHED.name) for r in made_by_sink)
    # Another Delta reader sees the same tables.
    for name, count in expected.items():
        assert pl.read_delta(table_path(tmp_path, namespace, name)).height == count
    # A second run finds nothing new: offsets come from the Delta log.
    assert run_sink(tmp_path, namespace) == 0
    assert lake_rows(tmp_path, namespace) == exact(expected)


@pytest.mark.parametrize("crash_at", ["before_write:3", "during_write:2", "after_commit:4"])
def test_a_killed_sink_restarts_without_loss_or_duplicates(
    bootstrap_servers: str, namespace: str, tmp_path: Path, crash_at: str
) -> None:
    expected = produce_mix(bootstrap_servers, namespace, sessions=700)
    assert run_sink(tmp_path, namespace, crash_at=crash_at) == -signal.SIGKILL
    if crash_at.startswith("during_write"):
        assert orphan_files(tmp_path, namespace) > 0, "the crash did not land mid-batch"
    assert run_sink(tmp_path, namespace) == 0
    assert lake_rows(tmp_path, namespace) == exact(expected)


def test_kill_at_random_points_then_finish(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    expected = produce_mix(bootstrap_servers, namespace, sessions=1200, over_s=6.0)
    seed = int(time.time())
    rng = random.Random(seed)
    killed_after_commits = 0
    for _ in range(3):
        command, env = sink_command(tmp_path, namespace, f"g-{uuid.uuid4().hex[:8]}")
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        # The kill lands at a random point *after* this process's first commit: a fixed delay
        # from launch sometimes fell before the first commit (start-up time varies with load).
        if wait_for_first_commit(tmp_path, namespace, process):
            killed_after_commits += 1
            time.sleep(rng.uniform(0.0, 0.8))
        process.kill()
        process.wait(timeout=30)
    wait_for_producers()
    assert run_sink(tmp_path, namespace) == 0
    assert lake_rows(tmp_path, namespace) == exact(expected), f"seed {seed}"
    assert killed_after_commits >= 1, "no sink committed before its kill"
    assert len(writer_pids(tmp_path, namespace)) >= 2, "no kill landed mid-stream"


def wait_for_first_commit(
    lake: Path, namespace: str, process: subprocess.Popen[bytes], timeout_s: float = 60.0
) -> bool:
    """Wait until `process` has committed to raw_events; False if it exited or timed out."""
    path = table_path(lake, namespace, RAW_EVENTS.name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if DeltaTable.is_deltatable(path) and str(process.pid) in writer_pids(lake, namespace):
            return True
        time.sleep(0.05)
    return False


def test_two_sinks_in_one_group_through_a_rebalance_and_a_crash(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    # Most of the traffic waits until both sinks are in the group: paced from the start, it
    # had all been read by the first sink when a slow start-up made the second join late
    # (a fresh-clone CI run of 6 Dec: the second wrote nothing).
    release = threading.Event()
    expected = produce_mix(bootstrap_servers, namespace, sessions=1500, over_s=8.0, release=release)
    group = f"g-{uuid.uuid4().hex[:8]}"
    command, env = sink_command(tmp_path, namespace, group, idle_s=8.0)
    first = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    assert wait_for_first_commit(tmp_path, namespace, first), "the first sink never committed"
    second = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # rebalance
    time.sleep(3.0)
    release.set()
    assert wait_for_first_commit(tmp_path, namespace, second), "the second sink never committed"
    first.kill()  # its partitions move to the second sink after the session timeout
    first.wait(timeout=30)
    wait_for_producers()
    assert second.wait(timeout=120) == 0
    assert lake_rows(tmp_path, namespace) == exact(expected)
    assert writer_pids(tmp_path, namespace) == {str(first.pid), str(second.pid)}


def test_realistic_traffic_with_bad_records_lands_row_for_row(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    traffic = generate_traffic(
        TrafficConfig(sessions=300, seed=11, bad_record_share=0.05, oversized_bytes=200_000)
    )
    events = [OutgoingEvent(event.topic, event.key, event.value()) for event in traffic.events()]
    expected_reason = {
        event.value(): event.bad_reason
        for event in traffic.events()  # same seed: the same events again
        if event.bad_reason in ("undecodable", "unknown_fingerprint", "wrong_schema")
    }
    assert expected_reason, "the generator made no header-level bad records"
    topics = {spec.name: spec.in_namespace(namespace) for spec in SINK_TOPICS}
    produce(bootstrap_servers, events, topics)
    settings = SinkSettings(
        bootstrap_servers=bootstrap_servers,
        lake_uri=str(tmp_path),
        namespace=namespace,
        group_id=f"g-{namespace}",
        validate_raw_bodies=True,  # so truncated bodies are flagged too
    )
    DeltaSink(settings).run(exit_when_idle_s=2.0)

    assert lake_rows(tmp_path, namespace)[RAW_EVENTS.name] == (len(events), len(events))
    raw = DeltaTable(table_path(tmp_path, namespace, RAW_EVENTS.name)).to_pyarrow_table(
        columns=["value", "decode_error", "event_id"]
    )
    for value, error, event_id in zip(
        *(raw[c].to_pylist() for c in ("value", "decode_error", "event_id")), strict=True
    ):
        reason = expected_reason.get(value)
        if reason is None:
            assert error is None and event_id is not None, error
        else:
            assert error is not None and error.split(":")[0] == reason
