"""The lake's table contracts: names, columns and partitioning, shared by the sink and its readers.

Columns of decoded tables come from the Avro contracts through `schemas.arrow`; every table adds the
Kafka coordinates of the message it came from (its lineage) and the `event_date` partition column.
"""

from dataclasses import dataclass

import pyarrow as pa

from schemas.arrow import arrow_schema
from schemas.catalog import SchemaCatalog, default_catalog
from schemas.lake_paths import check_table_name, check_table_prefix

__all__ = [
    "DEAD_LETTERS",
    "ENRICHED_INTERACTIONS",
    "LAKE_TABLES",
    "LINEAGE_COLUMNS",
    "QUALITY_METRICS",
    "RAW_EVENTS",
    "LakeTable",
    "lake_table",
]

LINEAGE_COLUMNS = pa.schema(
    [
        pa.field("kafka_topic", pa.string(), nullable=False),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
        pa.field("kafka_timestamp", pa.timestamp("ms", tz="UTC"), nullable=True),
    ]
)
EVENT_DATE = pa.field("event_date", pa.date32(), nullable=False)

# raw_events keeps every input message exactly as received; the decoded columns are only what the
# lake needs to find, partition and erase events (the rest stays in `value`).
RAW_EVENT_COLUMNS = pa.schema(
    [
        pa.field("value", pa.binary(), nullable=True),
        pa.field("key", pa.binary(), nullable=True),
        pa.field("record_name", pa.string(), nullable=True),
        pa.field("schema_fingerprint", pa.string(), nullable=True),
        pa.field("event_id", pa.string(), nullable=True),
        pa.field("session_id", pa.string(), nullable=True),
        pa.field("user_id", pa.string(), nullable=True),
        pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=True),
        pa.field("decode_error", pa.string(), nullable=True),
    ]
)


@dataclass(frozen=True)
class LakeTable:
    """A Delta table of the lake: its name, its record (if decoded) and how it is partitioned."""

    name: str
    record_name: str | None
    event_time_column: str
    partition_by: tuple[str, ...] = ("event_date",)

    def arrow_schema(self, catalog: SchemaCatalog | None = None) -> pa.Schema:
        """Full Arrow schema of the table: record columns, lineage columns, partition column."""
        if self.record_name is None:
            record = RAW_EVENT_COLUMNS
        else:
            record = arrow_schema((catalog or default_catalog()).latest(self.record_name))
        return pa.schema([*record, *LINEAGE_COLUMNS, EVENT_DATE])

    def path(self, lake_uri: str, prefix: str = "") -> str:
        """Location of the table under the lake root (`prefix` names a replay namespace).

        LakePathError when the prefix would lead outside the root (`../x/`, `/etc/`)."""
        return f"{lake_uri.rstrip('/')}/{check_table_prefix(prefix)}{check_table_name(self.name)}"


RAW_EVENTS = LakeTable("raw_events", None, event_time_column="event_time")
ENRICHED_INTERACTIONS = LakeTable(
    "enriched_interactions", "agentfeedback.enriched.EnrichedInteraction", "event_time"
)
QUALITY_METRICS = LakeTable(
    "quality_metrics", "agentfeedback.metrics.QualityMetric", "window_start"
)
DEAD_LETTERS = LakeTable(
    "dead_letters", "agentfeedback.deadletter.DeadLetter", "detected_at", ("event_date", "reason")
)
LAKE_TABLES: tuple[LakeTable, ...] = (
    RAW_EVENTS,
    ENRICHED_INTERACTIONS,
    QUALITY_METRICS,
    DEAD_LETTERS,
)


def lake_table(name: str) -> LakeTable:
    for table in LAKE_TABLES:
        if table.name == name:
            return table
    raise KeyError(f"no lake table named {name!r}; known: {[t.name for t in LAKE_TABLES]}")
