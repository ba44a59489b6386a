"""Reading the lake: a table (at a version or a time) as a pyarrow Table or a Polars frame.

```python
from sinks.lake_reader import read_table, read_polars, dedupe
turns = read_table("enriched_interactions", version=12, columns=["event_id", "reward"])
metrics = read_polars("quality_metrics", as_of="2026-01-02T00:00:00+00:00")
metrics = dedupe(metrics, "quality_metrics")
```

The processor may emit byte-identical records twice after a crash (at-least-once into Kafka);
the sink writes what it reads, so readers that count drop duplicates with `dedupe`.
"""

from datetime import datetime
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow.parquet import filters_to_expression

from sinks.lake import Lake
from sinks.lake_damage import check_data_files, translated_errors

__all__ = ["NATURAL_KEYS", "dedupe", "read_polars", "read_table", "text_field"]

# The key of one logical record in each table; a duplicate repeats it with the same content.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "raw_events": ("kafka_topic", "kafka_partition", "kafka_offset"),
    "enriched_interactions": ("event_id", "revision"),
    "quality_metrics": ("agent_id", "agent_version", "window_start", "update_seq"),
    "dead_letters": ("source_topic", "source_partition", "source_offset", "detected_by"),
}

_LINEAGE_ORDER = ("kafka_topic", "kafka_partition", "kafka_offset")
Frame = TypeVar("Frame", pa.Table, pl.DataFrame)


def text_field(column: str) -> pc.Expression:
    """A text column in a scan filter, as `string`. Files that delta-rs rewrote (a delete:
    `lake erase`) hold text columns as `string_view`, which Arrow cannot compare with a string
    value ("no kernel matching input types (string, string_view)"). Filters built with it
    stay in the scan; `read_table` filters the rows it read when a filter did not."""
    return pc.field(column).cast(pa.string())


def read_table(
    name: str,
    version: int | None = None,
    as_of: datetime | str | None = None,
    columns: list[str] | None = None,
    filter: Any = None,
    lake: Lake | None = None,
) -> pa.Table:
    """A lake table as Arrow. `filter`: a pyarrow compute expression or DNF filters
    (`[("agent_version", "=", "2.1.0")]`); `as_of`: a datetime or ISO-8601 text. On text
    columns, `text_field(name) == value` filters in the scan even after an erasure (see it).

    A damaged table raises `DamagedTableError` (one line: table, version, file, repair
    command); a version whose files were vacuumed, `VacuumedVersionError`."""
    lake = lake or Lake()
    table = lake.open(name, version, as_of)
    # A data file missing here is damage, or (time travel) a version vacuum emptied.
    travel = version is not None or as_of is not None
    check_data_files(lake, name, table, time_travel=travel)
    with translated_errors(lake, name, table.version(), time_travel=travel):
        expression = None if filter is None else filters_to_expression(filter)
        # One thread: a threaded scan of delta-rs's dataset leaves native threads that abort a
        # short-lived process at interpreter exit (`terminate called without an active
        # exception`: 18 of 40 runs of a script reading four tables, 0 of 40 single-threaded;
        # delta-io/delta-rs#2184, docs/reliability.md).
        dataset = table.to_pyarrow_dataset()
        try:
            return dataset.to_table(columns=columns, filter=expression, use_threads=False)
        except pa.ArrowNotImplementedError:
            if expression is None:
                raise
        # A filter on a text column of files that delta-rs rewrote (see `text_field`): the
        # rows read are `string`.
        rows = dataset.to_table(use_threads=False).filter(expression)
        return rows.select(columns) if columns is not None else rows


def read_polars(
    name: str,
    version: int | None = None,
    as_of: datetime | str | None = None,
    columns: list[str] | None = None,
    filter: Any = None,
    lake: Lake | None = None,
) -> pl.DataFrame:
    """Same as `read_table`, as a Polars DataFrame."""
    frame = pl.from_arrow(read_table(name, version, as_of, columns, filter, lake))
    assert isinstance(frame, pl.DataFrame)
    return frame


def dedupe(frame: Frame, name: str) -> Frame:
    """Drop repeated records (same natural key), keeping the first read from Kafka (lowest
    offset, when the lineage columns were read)."""
    keys = list(NATURAL_KEYS[name])
    columns = frame.columns if isinstance(frame, pl.DataFrame) else frame.column_names
    order = [c for c in _LINEAGE_ORDER if c in columns]
    if isinstance(frame, pl.DataFrame):
        ordered = frame.sort(order) if order else frame
        return ordered.unique(subset=keys, keep="first", maintain_order=True)
    if order:
        frame = frame.sort_by([(c, "ascending") for c in order])
    indexed = frame.append_column("__row", pa.array(range(frame.num_rows), pa.int64()))
    firsts = indexed.group_by(keys, use_threads=False).aggregate([("__row", "min")])
    keep = pc.is_in(indexed["__row"], value_set=firsts["__row_min"])
    return frame.filter(keep)
