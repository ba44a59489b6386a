"""Erasure reaches every copy we make: lake files, curated datasets, replays and backfills.

Real Kafka, the real sink, Delta on disk. `u-42` and `u-420` both produce sessions; a dataset is
curated; `u-42` is erased; a replay from Kafka (which still holds u-42's messages) and a backfill
from the lake (after u-42 sent more) are made afterwards. Everything is read back with pyarrow,
plain file reads and a plain Kafka consumer, never with the project's readers, and searched for
u-42's id, session and text, which `u-420`'s never contain (`"u-42"` Avro-encoded is `\\x08u-42`,
`"u-420"` is `\\x0au-420`).
"""

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from curation import CurationOptions, curate_sft
from feedbackctl.main import app
from replay.backfill import backfill_from_lake
from replay.settings import ReplaySettings
from replay.topic_copy import copy_input_range
from schemas import serializer_for
from schemas.topics import ENRICHED, FEEDBACK, INPUT_TOPICS, INTERACTIONS, SIGNALS, TopicSpec
from sinks import DeltaSink, SinkSettings
from sinks.sink import SinkStats
from tests.integration.test_sink_exactly_once import sink_topics
from tests.unit.sinks.events import enriched, feedback, interaction, signal

ERASED, NEIGHBOUR = "u-42", "u-420"
WEEK = timedelta(days=7)
# What betrays a user in text and in bytes; none of u-42's is part of u-420's.
TEXT = {ERASED: ("from u-42:", "s-42-"), NEIGHBOUR: ("from u-420:", "s-420-")}
BYTES = {user: (b"\x08u-42", *(t.encode() for t in TEXT[ERASED])) for user in (ERASED,)}
BYTES[NEIGHBOUR] = (b"\x0au-420", *(t.encode() for t in TEXT[NEIGHBOUR]))


def _mentions(value: Any, user: str) -> bool:
    """Whether a value read back (any nesting) holds the user's id, session or text."""
    if isinstance(value, dict):
        return any(_mentions(v, user) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, user) for v in value)
    if isinstance(value, bytes):
        return any(marker in value for marker in BYTES[user])
    if isinstance(value, str):
        return value == user or any(marker in value for marker in TEXT[user])
    return False


def _user_events(user: str, now_ms: int) -> list[tuple[TopicSpec, bytes, bytes, int]]:
    """(topic, key, value, Kafka timestamp) of one user's session: two turns, feedback, signal,
    and the processor's enriched records of both turns (for curation)."""
    session = f"s-{user[2:]}-a"
    key = session.encode()
    out = []
    for turn in range(2):
        record = interaction(session, turn, user, now_ms + turn * 1000)
        out.append((INTERACTIONS, key, serializer_for(INTERACTIONS).encode(record)))
        turn_record = {
            **enriched(session, turn, user, now_ms + turn * 1000),
            "reward": 0.9,
            "reward_confidence": 0.9,
        }
        out.append((ENRICHED, key, serializer_for(ENRICHED).encode(turn_record)))
    out.append((FEEDBACK, key, serializer_for(FEEDBACK).encode(feedback(session, None, now_ms))))
    record = signal(session, "task_completed", now_ms)
    out.append((SIGNALS, key, serializer_for(SIGNALS).encode(record)))
    step = 7 if user == ERASED else 3  # distinct Kafka timestamps per user and message
    return [(t, k, v, now_ms + i * step) for i, (t, k, v) in enumerate(out)]


def _produce(bootstrap: str, namespace: str, events: list[tuple[TopicSpec, bytes, bytes, int]]):
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for topic, key, value, timestamp in events:
        producer.produce(topic.in_namespace(namespace).name, value, key, timestamp=timestamp)
    assert producer.flush(30) == 0


def _sink(bootstrap: str, root: Path, namespace: str) -> SinkStats:
    settings = SinkSettings(
        bootstrap_servers=bootstrap,
        lake_uri=str(root),
        namespace=namespace,
        group_id=f"g-{namespace}",
        flush_latency_s=0.5,
    )
    return DeltaSink(settings).run(exit_when_idle_s=2.0)


def _read_namespace(bootstrap: str, namespace: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a namespace's input topics, read with a plain consumer."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False}
    )
    ends: dict[tuple[str, int], int] = {}
    for spec in INPUT_TOPICS:
        name = spec.in_namespace(namespace).name
        for partition in range(spec.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), 10)
            if high > low:
                ends[(name, partition)] = high
    consumer.assign([TopicPartition(t, p, 0) for t, p in ends])
    out = []
    deadline = time.monotonic() + 60
    while ends and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=0.5):
            assert message.error() is None, message.error()
            out.append((message.key(), message.value()))
            if message.offset() + 1 >= ends.get((message.topic(), message.partition()), 0):
                ends.pop((message.topic(), message.partition()), None)
    consumer.close()
    assert not ends, f"could not read {ends}"
    return out


def _parquet_rows(folder: Path) -> dict[Path, list[dict]]:
    """Every row of every Parquet file under `folder` (referenced by a Delta log or not)."""
    return {
        path: pq.read_table(path, partitioning=None).to_pylist()
        for path in sorted(folder.rglob("*.parquet"))
    }


def _owners(rows: list[Any]) -> set[str]:
    return {user for user in (ERASED, NEIGHBOUR) if any(_mentions(r, user) for r in rows)}


@pytest.fixture()
def replay_namespaces(bootstrap_servers: str) -> Iterator[list[str]]:
    """Namespaces a test replays or backfills into; their topics are deleted afterwards."""
    used: list[str] = []
    yield used
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    names = [spec.in_namespace(ns).name for ns in used for spec in INPUT_TOPICS]
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [name for name in names if name in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


def test_erasure_reaches_lake_datasets_replays_and_backfills(
    bootstrap_servers: str, tmp_path: Path, replay_namespaces: list[str]
) -> None:
    root, datasets = tmp_path / "lake", tmp_path / "datasets"
    now_ms = int(time.time() * 1000) - 60_000
    events = {user: _user_events(user, now_ms) for user in (ERASED, NEIGHBOUR)}
    with sink_topics(bootstrap_servers) as namespace:
        _produce(bootstrap_servers, namespace, events[ERASED] + events[NEIGHBOUR])
        _sink(bootstrap_servers, root, namespace)
        options = CurationOptions(
            require_explicit_positive=False,
            completed_only=False,
            drop_contradicted=False,
            dedup="none",
            eval_share=0.0,
        )
        curated = curate_sft(str(root), options, output_root=datasets, prefix=f"{namespace}/")
        before = _parquet_rows(curated.output_dir)
        # Both users are in the lake and in the dataset: the checks below can fail.
        assert _owners([r for rows in before.values() for r in rows]) == {ERASED, NEIGHBOUR}
        assert _owners(list(_parquet_rows(root / namespace).values())) == {ERASED, NEIGHBOUR}

        result = CliRunner().invoke(
            app,
            [
                "lake",
                "erase",
                "--user-id",
                ERASED,
                "--vacuum",
                "--lake-uri",
                str(root),
                "--namespace",
                namespace,
                "--datasets",
                str(datasets),
            ],
        )
        assert result.exit_code == 0, result.output

        _assert_lake_and_ledger(root, namespace, result.output)
        _assert_dataset(curated.output_dir, before)
        _assert_report(result.output, root / namespace, namespace, events[ERASED])
        _assert_replay(bootstrap_servers, root, namespace, events, replay_namespaces)
        _assert_backfill(bootstrap_servers, root, namespace, now_ms, replay_namespaces)


def _assert_lake_and_ledger(root: Path, namespace: str, output: str) -> None:
    files = _parquet_rows(root / namespace)
    for path, rows in files.items():
        assert not any(_mentions(r, ERASED) for r in rows), path
    for table in ("raw_events", "enriched_interactions"):
        rows = [r for p, rs in files.items() if table in p.parts for r in rs]
        assert _owners(rows) == {NEIGHBOUR}, table
    for log in (root / namespace).rglob("_delta_log/*.json"):
        assert not _mentions(log.read_bytes(), ERASED), log
    ledger = [r for p, rs in files.items() if "erasures" in p.parts for r in rs]
    assert ledger and all(r["id_salt"] and len(r["session_ids_sha256"]) == 1 for r in ledger)
    assert "erasure " in output and "recorded in the ledger" in output


def _assert_dataset(directory: Path, before: dict[Path, list[dict]]) -> None:
    after = _parquet_rows(directory)
    kept = [r for rows in after.values() for r in rows]
    assert _owners(kept) == {NEIGHBOUR}
    removed = sum(len(r) for r in before.values()) - len(kept)
    assert removed == sum(1 for rows in before.values() for r in rows if _mentions(r, ERASED))
    for jsonl in directory.rglob("*.jsonl"):
        text = jsonl.read_text(encoding="utf-8")
        assert not any(marker in text for marker in TEXT[ERASED]) and '"u-42"' not in text
    assert any(TEXT[NEIGHBOUR][0] in j.read_text() for j in directory.rglob("*.jsonl"))
    manifest = json.loads((directory / "manifest.json").read_text())
    (record,) = manifest["erasures"]
    assert record["rows_removed"] == removed > 0
    assert manifest["datasets"]["sft"]["rows"]["train"] == len(kept)
    listed = {entry["path"]: entry["rows"] for entry in manifest["files"]}
    assert listed == {"sft/train.jsonl": len(kept), "sft/train.parquet": len(kept)} | {
        "sft/test.jsonl": 0,
        "sft/test.parquet": 0,
    }


def _assert_report(
    output: str, lake: Path, namespace: str, erased: list[tuple[TopicSpec, bytes, bytes, int]]
) -> None:
    """Each input topic named with the end of its retention for u-42's last message there."""
    ledger = pq.read_table(lake / "erasures", partitioning=None).to_pylist()
    copies = {c["topic"]: c["retained_until"] for c in ledger[0]["kafka_copies"]}
    for spec in INPUT_TOPICS:
        last = max(ts for topic, _, _, ts in erased if topic == spec)
        until = datetime.fromtimestamp(last / 1000, UTC) + WEEK
        name = spec.in_namespace(namespace).name
        assert f"Kafka topic {name} until {until:%Y-%m-%dT%H:%M:%SZ}" in output, output
        assert copies[name] == until


def _assert_replay(
    bootstrap: str, root: Path, namespace: str, events: dict, used: list[str]
) -> None:
    target = f"r{uuid.uuid4().hex[:10]}"
    used.append(target)
    settings = ReplaySettings(bootstrap_servers=bootstrap, lake_uri=str(root), timeout_s=60)
    result = copy_input_range(settings, target, source_namespace=namespace)
    inputs = {user: [e for e in events[user] if e[0] in INPUT_TOPICS] for user in events}
    assert result.skipped_erased == len(inputs[ERASED]) and result.erasures == 1
    copied = _read_namespace(bootstrap, target)
    assert len(copied) == result.records == len(inputs[NEIGHBOUR])
    assert _owners([value for _, value in copied]) == {NEIGHBOUR}


def _assert_backfill(bootstrap: str, root: Path, namespace: str, now_ms: int, used: list[str]):
    """Rows of u-42 reach the sink after the erasure: a new turn and signal of theirs, a
    reviewer's late thumbs on their turn and the processor's new revision of it (what a late
    feedback within the grace period makes). The sink reads the ledger and writes none of
    them; u-420's new turn goes in. The backfill from the lake then has nothing of u-42 left."""
    session = b"s-42-a"
    late_feedback = {**feedback("s-42-a", None, now_ms + 9000), "rater_id": "reviewer-1"}
    revision = {**enriched("s-42-a", 0, ERASED, now_ms), "revision": 1}
    late = [
        (INTERACTIONS, session, interaction("s-42-a", 2, ERASED, now_ms + 9000)),
        (SIGNALS, session, signal("s-42-a", "task_completed", now_ms + 9000)),
        (FEEDBACK, session, late_feedback),
        (ENRICHED, session, revision),
        (INTERACTIONS, b"s-420-a", interaction("s-420-a", 2, NEIGHBOUR, now_ms + 9000)),
    ]
    _produce(
        bootstrap,
        namespace,
        [(t, k, serializer_for(t).encode(r), now_ms + 9000) for t, k, r in late],
    )
    stats = _sink(bootstrap, root, namespace)
    assert dict(stats.erased) == {"raw_events": 3, "enriched_interactions": 1}
    files = _parquet_rows(root / namespace)
    assert not any(_mentions(r, ERASED) for rows in files.values() for r in rows)
    raw = [r for p, rs in files.items() if "raw_events" in p.parts for r in rs]
    assert any(r["user_id"] == NEIGHBOUR and b"s-420-a" in r["value"] for r in raw)
    assert sum(r["session_id"] == "s-420-a" for r in raw) == 5  # 4 before, the new turn

    target = f"b{uuid.uuid4().hex[:10]}"
    used.append(target)
    settings = ReplaySettings(bootstrap_servers=bootstrap, lake_uri=str(root), timeout_s=60)
    result = backfill_from_lake(
        settings, target, table_prefix=f"{namespace}/", source_namespace=namespace
    )
    assert result.skipped_erased == 0 and result.erasures == 1
    published = _read_namespace(bootstrap, target)
    assert len(published) == result.records == 5
    assert _owners([value for _, value in published]) == {NEIGHBOUR}
