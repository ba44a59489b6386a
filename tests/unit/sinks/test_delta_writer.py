"""Exactly-once appends: offsets live in the Delta log next to the rows they describe."""

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from schemas.lake import QUALITY_METRICS
from sinks.dead_letters import DeadLetterFactory
from sinks.decoded import DecodedConverter
from sinks.delta_writer import STATS_COLUMNS, LakeTableWriter, app_id
from tests.unit.sinks.events import START_MS, FakeMessage, metric

TOPIC = "agent.metrics.v1"


def rows(partition: int, offsets: range) -> pa.Table:
    from schemas import serializer_for
    from schemas.topics import METRICS

    encode = serializer_for(METRICS).encode
    converter = DecodedConverter(QUALITY_METRICS, DeadLetterFactory(100))
    messages = [
        FakeMessage(encode(metric("1.0", START_MS, o)), TOPIC, partition, o) for o in offsets
    ]
    return converter.convert(messages).rows


def writer(lake: Path, name: str = "sink-a") -> LakeTableWriter:
    return LakeTableWriter(QUALITY_METRICS, str(lake), "", name)


def table_rows(lake: Path) -> list[tuple[int, int]]:
    data = DeltaTable(QUALITY_METRICS.path(str(lake))).to_pyarrow_table()
    partitions, offsets = data["kafka_partition"].to_pylist(), data["kafka_offset"].to_pylist()
    return sorted(zip(partitions, offsets, strict=True))


def test_append_records_offsets_and_skips_rows_already_written(tmp_path: Path) -> None:
    sink = writer(tmp_path)
    assert sink.committed_offset(TOPIC, 0) is None
    first = sink.append(rows(0, range(0, 10)), {(TOPIC, 0): 9})
    assert first.rows == 10
    assert sink.committed_offset(TOPIC, 0) == 9
    # A restart re-reads offsets 5..14: only 10..14 are new.
    again = writer(tmp_path).append(rows(0, range(5, 15)), {(TOPIC, 0): 14})
    assert (again.rows, again.skipped_rows) == (5, 5)
    assert table_rows(tmp_path) == [(0, o) for o in range(15)]
    # Nothing new at all: no commit.
    version = DeltaTable(QUALITY_METRICS.path(str(tmp_path))).version()
    nothing = writer(tmp_path).append(rows(0, range(3, 8)), {(TOPIC, 0): 7})
    assert nothing.version is None
    assert DeltaTable(QUALITY_METRICS.path(str(tmp_path))).version() == version


def test_racing_writers_with_stale_snapshots_cannot_both_commit(tmp_path: Path) -> None:
    first, second = writer(tmp_path), writer(tmp_path)
    first.append(rows(1, range(0, 1)), {(TOPIC, 1): 0})
    _ = second.delta  # both now hold the same snapshot
    first.append(rows(1, range(1, 20)), {(TOPIC, 1): 19})
    result = second.append(rows(1, range(1, 25)), {(TOPIC, 1): 24})
    assert result.attempts == 2  # the stale commit failed, was re-checked and trimmed
    assert result.rows == 5
    assert table_rows(tmp_path) == [(1, o) for o in range(25)]


def test_partitions_of_other_sinks_and_partitions_do_not_interfere(tmp_path: Path) -> None:
    writer(tmp_path, "sink-a").append(rows(0, range(0, 3)), {(TOPIC, 0): 2})
    writer(tmp_path, "sink-a").append(rows(1, range(0, 3)), {(TOPIC, 1): 2})
    delta = DeltaTable(QUALITY_METRICS.path(str(tmp_path)))
    assert delta.transaction_version(app_id("sink-a", TOPIC, 0)) == 2
    assert delta.transaction_version(app_id("sink-b", TOPIC, 0)) is None


def test_offsets_advance_even_without_rows(tmp_path: Path) -> None:
    sink = writer(tmp_path)
    result = sink.append(sink.schema.empty_table(), {(TOPIC, 2): 41})
    assert result.rows == 0 and sink.committed_offset(TOPIC, 2) == 41


def test_statistics_only_on_columns_without_personal_data(tmp_path: Path) -> None:
    sink = writer(tmp_path)
    sink.append(rows(0, range(2)), {(TOPIC, 0): 1})
    configuration = sink.delta.metadata().configuration
    assert configuration["delta.dataSkippingStatsColumns"] == ",".join(
        STATS_COLUMNS["quality_metrics"]
    )
    for name, columns in STATS_COLUMNS.items():
        assert not {"user_id", "prompt", "response", "session_id", "value"} & set(columns), name


def test_an_additive_contract_change_adds_columns(tmp_path: Path) -> None:
    older = pa.schema([f for f in QUALITY_METRICS.arrow_schema() if f.name != "cost_usd"])
    LakeTableWriter(QUALITY_METRICS, str(tmp_path), "", "sink-a", schema=older).append(
        rows(0, range(2)).drop(["cost_usd"]), {(TOPIC, 0): 1}
    )
    writer(tmp_path).append(rows(0, range(2, 4)), {(TOPIC, 0): 3})
    data = DeltaTable(QUALITY_METRICS.path(str(tmp_path))).to_pyarrow_table()
    costs = dict(zip(data["kafka_offset"].to_pylist(), data["cost_usd"].to_pylist(), strict=True))
    assert costs == {0: None, 1: None, 2: 0.03, 3: 0.03}
