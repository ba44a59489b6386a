"""Reading the lake: versions, times, filters, and dropping repeated records."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from schemas import serializer_for
from schemas.lake import QUALITY_METRICS
from schemas.topics import METRICS
from sinks.dead_letters import DeadLetterFactory
from sinks.decoded import DecodedConverter
from sinks.delta_writer import LakeTableWriter
from sinks.exceptions import TableNotFoundInLakeError
from sinks.lake import Lake
from sinks.lake_reader import dedupe, read_polars, read_table, text_field
from tests.unit.sinks.events import START_MS, FakeMessage, metric


def metrics_rows(offsets: range, seq_of=lambda offset: offset) -> pa.Table:
    encode = serializer_for(METRICS).encode
    converter = DecodedConverter(QUALITY_METRICS, DeadLetterFactory(100))
    messages = [
        FakeMessage(encode(metric("1.0", START_MS, seq_of(o))), METRICS.name, 0, o) for o in offsets
    ]
    return converter.convert(messages).rows


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    writer = LakeTableWriter(QUALITY_METRICS, str(tmp_path), "ns/", "sink")
    writer.append(metrics_rows(range(0, 4)), {(METRICS.name, 0): 3})
    writer.append(metrics_rows(range(4, 8), seq_of=lambda o: o - 4), {(METRICS.name, 0): 7})
    return Lake(str(tmp_path), "ns/")


def test_latest_version_and_time_travel(lake: Lake) -> None:
    name = QUALITY_METRICS.name
    assert read_table(name, lake=lake).num_rows == 8
    assert read_table(name, version=1, lake=lake).num_rows == 4
    assert read_table(name, as_of=datetime(2000, 1, 1, tzinfo=UTC), lake=lake).num_rows == 0
    assert read_polars(name, as_of=datetime.now(UTC).isoformat(), lake=lake).height == 8
    with pytest.raises(ValueError):
        read_table(name, version=1, as_of=datetime.now(UTC), lake=lake)


def test_columns_and_filters(lake: Lake) -> None:
    name = QUALITY_METRICS.name
    table = read_table(name, columns=["update_seq"], filter=[("kafka_offset", ">=", 6)], lake=lake)
    assert table.column_names == ["update_seq"] and sorted(table["update_seq"].to_pylist()) == [
        2,
        3,
    ]


def test_a_text_filter_reads_files_rewritten_by_a_delete(tmp_path: Path) -> None:
    """A delete (as `lake erase` does) rewrites files with their text as `string_view`; a
    filter on a text column used to fail there ("no kernel matching input types (string,
    string_view)")."""
    lake = Lake(str(tmp_path), "ns/")
    rows = pa.table({"session_id": ["a", "b", "c"], "kafka_offset": [1, 2, 3]})
    write_deltalake(str(tmp_path / "ns" / "sessions"), rows)
    lake.open("sessions").delete("kafka_offset = 2")
    table = read_table(
        "sessions", columns=["kafka_offset"], filter=[("session_id", "=", "c")], lake=lake
    )
    assert table["kafka_offset"].to_pylist() == [3]
    # `text_field` filters there in the scan itself (the erasure's scans use it).
    scanned = lake.open("sessions").to_pyarrow_table(
        columns=["kafka_offset"], filters=text_field("session_id").isin(["a", "c"])
    )
    assert sorted(scanned["kafka_offset"].to_pylist()) == [1, 3]


def test_dedupe_keeps_one_record_per_natural_key(lake: Lake) -> None:
    # Offsets 4-7 repeat update_seq 0-3 of the same window: the processor's duplicates.
    name = QUALITY_METRICS.name
    table = dedupe(read_table(name, lake=lake), name)
    assert sorted(table["kafka_offset"].to_pylist()) == [0, 1, 2, 3]
    frame = dedupe(read_polars(name, lake=lake), name)
    assert isinstance(frame, pl.DataFrame)
    assert sorted(frame["kafka_offset"].to_list()) == [0, 1, 2, 3]


def test_a_missing_table_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TableNotFoundInLakeError, match="feedbackctl sink"):
        read_table("raw_events", lake=Lake(str(tmp_path)))
