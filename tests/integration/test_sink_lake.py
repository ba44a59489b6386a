"""Lake maintenance, erasure and reading, on tables the real sink wrote from the real Kafka."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas import serializer_for
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, RAW_EVENTS
from schemas.topics import ENRICHED
from sinks import DeltaSink, SinkSettings
from sinks.lake import ERASURES_TABLE, Lake
from sinks.lake_reader import dedupe, read_polars, read_table
from tests.integration.test_sink_exactly_once import SINK_TOPICS, produce_mix, sink_topics
from tests.unit.sinks.events import START_MS, OutgoingEvent, enriched, produce

ERASED = "user-0"  # owns sessions i % 5 == 0


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    with sink_topics(bootstrap_servers) as name:
        yield name


def run_sink_in_process(bootstrap_servers: str, lake: Path, namespace: str) -> None:
    settings = SinkSettings(
        bootstrap_servers=bootstrap_servers,
        lake_uri=str(lake),
        namespace=namespace,
        group_id=f"g-{namespace}",
        flush_rows=600,
        flush_latency_s=0.5,
    )
    DeltaSink(settings).run(exit_when_idle_s=2.0)


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def parquet_rows_on_disk(lake: Path, namespace: str, table: str) -> list[dict]:
    """Every row of every Parquet file under the table directory, referenced or not."""
    rows: list[dict] = []
    for path in sorted((lake / namespace / table).rglob("*.parquet")):
        if "_delta_log" in path.parts:
            continue
        rows.extend(pq.read_table(path, partitioning=None).to_pylist())
    return rows


def test_erase_removes_every_byte_of_a_user_and_keeps_everyone_else(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    produce_mix(bootstrap_servers, namespace, sessions=300)
    run_sink_in_process(bootstrap_servers, tmp_path, namespace)
    lake = Lake(str(tmp_path), f"{namespace}/")
    erased_sessions = {f"session-{i:06d}" for i in range(0, 300, 5)}
    keys = {s.encode() for s in erased_sessions}

    def belongs(row: dict) -> bool:
        return (
            row.get("user_id") == ERASED
            or row.get("session_id") in erased_sessions
            or row.get("key") in keys
        )

    before = {
        name: read_table(name, lake=lake).to_pylist()
        for name in (RAW_EVENTS.name, ENRICHED_INTERACTIONS.name, DEAD_LETTERS.name)
    }
    doomed = {name: sum(map(belongs, rows)) for name, rows in before.items()}
    assert all(doomed.values()), doomed  # the user is in every table to begin with
    # Compaction first, so the old files hold the user's rows twice over (small and compacted).
    cli("lake", "compact", "--lake-uri", str(tmp_path), "--namespace", namespace)

    output = cli(
        "lake", "erase", "--user-id", ERASED, "--vacuum",
        "--lake-uri", str(tmp_path), "--namespace", namespace,
    )  # fmt: skip
    assert "rows of 60 sessions" in output

    for name, rows in before.items():
        on_disk = parquet_rows_on_disk(tmp_path, namespace, name)
        assert not [row for row in on_disk if belongs(row)], name
        blob = "value" if name == RAW_EVENTS.name else "original"
        assert not [r for r in on_disk if ERASED.encode() in (r.get(blob) or b"")], name
        # Everyone else's rows are untouched: same rows, same content.
        kept = sorted(r["kafka_offset"] for r in rows if not belongs(r))
        after = read_table(name, lake=lake)
        assert after.num_rows == len(rows) - doomed[name]
        assert sorted(after["kafka_offset"].to_pylist()) == kept
    # No id of the user in the Delta logs either (no stats on user columns, coordinates only).
    for name in before:
        for log in (tmp_path / namespace / name / "_delta_log").glob("*.json"):
            assert ERASED.encode() not in log.read_bytes(), log
    record = read_table(ERASURES_TABLE, lake=lake)
    deleted = dict(
        zip(record["table_name"].to_pylist(), record["rows_deleted"].to_pylist(), strict=True)
    )
    assert deleted == {**doomed, "quality_metrics": 0}
    for path in (tmp_path / namespace / ERASURES_TABLE).rglob("*"):
        if path.is_file():
            assert ERASED.encode() not in path.read_bytes()


def test_time_travel_dedupe_maintenance_and_query(
    bootstrap_servers: str, namespace: str, tmp_path: Path
) -> None:
    topics = {spec.name: spec.in_namespace(namespace) for spec in SINK_TOPICS}
    record = enriched("session-a", 0, "user-a", START_MS)
    twice = [OutgoingEvent(ENRICHED, b"session-a", serializer_for(ENRICHED).encode(record))] * 2
    produce(bootstrap_servers, twice, topics)
    run_sink_in_process(bootstrap_servers, tmp_path, namespace)
    lake = Lake(str(tmp_path), f"{namespace}/")
    first_version = Lake.open(lake, ENRICHED_INTERACTIONS.name).version()
    between = datetime.now(UTC)
    time.sleep(0.05)
    later = enriched("session-b", 0, "user-b", START_MS)
    produce(
        bootstrap_servers,
        [OutgoingEvent(ENRICHED, b"session-b", serializer_for(ENRICHED).encode(later))],
        topics,
    )
    run_sink_in_process(bootstrap_servers, tmp_path, namespace)

    name = ENRICHED_INTERACTIONS.name
    assert read_table(name, lake=lake).num_rows == 3
    assert read_table(name, version=first_version, lake=lake).num_rows == 2
    assert read_table(name, as_of=between, lake=lake).num_rows == 2
    assert read_table(name, as_of=between.isoformat(), lake=lake).num_rows == 2
    frame = read_polars(
        name,
        columns=["event_id", "revision", "kafka_topic", "kafka_partition", "kafka_offset"],
        lake=lake,
    )
    assert dedupe(frame, name).height == 2
    assert dedupe(read_table(name, lake=lake), name).num_rows == 2
    filtered = read_table(name, filter=pc.field("session_id") == "session-b", lake=lake)
    assert filtered["event_id"].to_pylist() == [later["event_id"]]

    where = ["--lake-uri", str(tmp_path), "--namespace", namespace]
    files_before = len(DeltaTable(lake.path(name)).file_uris())
    cli("lake", "compact", name, *where)
    assert len(DeltaTable(lake.path(name)).file_uris()) < files_before
    assert read_table(name, lake=lake).num_rows == 3
    assert "would delete 0 files" in cli("lake", "vacuum", name, *where)  # within retention
    assert "checkpoint at version" in cli("lake", "checkpoint", name, *where)
    history = cli("lake", "history", name, *where)
    assert "OPTIMIZE" in history and "WRITE" in history
    shown = cli(
        "lake", "query", name, "--version", str(first_version), "--columns", "session_id", *where
    )
    assert "session-a" in shown and "session-b" not in shown and "2 of 2 rows" in shown
