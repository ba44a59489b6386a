"""Reading the enriched table at a pinned Delta version, one row per turn (latest revision)."""

from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import DeltaProtocolError, TableNotFoundError

from curation.exceptions import LakeTableMissingError
from schemas.lake import ENRICHED_INTERACTIONS, RAW_EVENTS, LakeTable
from schemas.topics import INTERACTIONS

__all__ = [
    "INTERACTION_COLUMNS",
    "LakeSnapshot",
    "RawSnapshot",
    "add_interaction_coordinates",
    "latest_revisions",
    "open_table",
    "read_columns",
    "read_enriched",
    "read_interaction_coordinates",
]

# Where each turn's original interaction message sits in Kafka (from raw_events), when asked.
INTERACTION_COLUMNS = {
    "interaction_topic": pl.String,
    "interaction_partition": pl.Int32,
    "interaction_offset": pl.Int64,
}

# The enriched columns curation reads; the rest (reasoning, tokens, cost...) stays in the lake.
ENRICHED_COLUMNS = [
    "event_id",
    "session_id",
    "turn_index",
    "agent_id",
    "agent_version",
    "model",
    "event_time",
    "prompt",
    "response",
    "tools_used",
    "context",
    "retry_of",
    "revision",
    "session_outcome",
    "session_turns",
    "feedback",
    "signals",
    "reward",
    "reward_source",
    "reward_confidence",
    "corrected_response",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
]


@dataclass(frozen=True)
class LakeSnapshot:
    """The turns of one table version: what curation works on, and where they came from."""

    table_uri: str
    version: int
    rows_read: int
    turns: pl.DataFrame


def open_table(
    lake_uri: str, prefix: str = "", version: int | None = None, table: LakeTable | None = None
) -> DeltaTable:
    """The Delta table at `version` (None = latest); a clear error when it is missing."""
    path = (table or ENRICHED_INTERACTIONS).path(lake_uri, prefix)
    try:
        return DeltaTable(path, version=version)
    except TableNotFoundError as exc:
        raise LakeTableMissingError(
            f"no Delta table at {path!r}: is the lake URI right (FEEDBACK_CURATION_LAKE_URI) "
            "and has the sink written to it?"
        ) from exc
    except Exception as exc:  # deltalake raises a generic error for a version it does not have
        if version is not None and "version" in str(exc).lower():
            raise LakeTableMissingError(f"table {path!r} has no version {version}: {exc}") from exc
        raise


def read_columns(table: DeltaTable, columns: list[str]) -> pl.DataFrame:
    """Columns of the loaded table version: polars' native Parquet reader (2-3x faster here
    than going through pyarrow), or deltalake's when polars cannot read the table's protocol.
    """
    try:
        return pl.read_delta(table, columns=columns)
    except DeltaProtocolError:
        frame = pl.from_arrow(table.to_pyarrow_table(columns=columns))
        assert isinstance(frame, pl.DataFrame)
        return frame


def read_enriched(lake_uri: str, prefix: str = "", version: int | None = None) -> LakeSnapshot:
    """Read the enriched table at a pinned version and keep the latest revision of each turn."""
    table = open_table(lake_uri, prefix, version)
    frame = read_columns(table, ENRICHED_COLUMNS)
    return LakeSnapshot(
        table_uri=ENRICHED_INTERACTIONS.path(lake_uri, prefix),
        version=table.version(),
        rows_read=frame.height,
        turns=latest_revisions(frame),
    )


def latest_revisions(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per event_id: the highest revision; exact duplicates collapse to one.

    Ties (same event_id and revision written twice) keep the lowest Kafka coordinates, so the
    choice never depends on file order. Only event_ids seen more than once are ranked, on the
    narrow key columns; kept rows stay in table order (every later step sorts by what it needs).
    """
    keys = frame.select(
        "event_id", "revision", "kafka_topic", "kafka_partition", "kafka_offset"
    ).with_row_index("_row")
    repeated = keys.get_column("event_id").is_duplicated()
    if not repeated.any():
        return frame
    best = (
        keys.filter(repeated)
        .group_by("event_id")
        .agg(
            pl.col("_row")
            .sort_by(
                ["revision", "kafka_topic", "kafka_partition", "kafka_offset"],
                descending=[True, False, False, False],
            )
            .first()
        )
        .get_column("_row")
    )
    return frame.filter(~repeated | keys.get_column("_row").is_in(best.implode()))


@dataclass(frozen=True)
class RawSnapshot:
    """Kafka coordinates of the original interactions, from one version of raw_events."""

    table_uri: str
    version: int
    coordinates: pl.DataFrame


def read_interaction_coordinates(
    lake_uri: str, prefix: str = "", version: int | None = None
) -> RawSnapshot:
    """First receipt (lowest coordinates) of every interaction event in raw_events."""
    table = open_table(lake_uri, prefix, version, RAW_EVENTS)
    frame = read_columns(
        table, ["event_id", "record_name", "kafka_topic", "kafka_partition", "kafka_offset"]
    )
    coordinates = (
        frame.filter(
            (pl.col("record_name") == INTERACTIONS.value_record) & pl.col("event_id").is_not_null()
        )
        .sort(["event_id", "kafka_topic", "kafka_partition", "kafka_offset"])
        .unique(subset=["event_id"], keep="first", maintain_order=True)
        .select(
            "event_id",
            pl.col("kafka_topic").alias("interaction_topic"),
            pl.col("kafka_partition").cast(pl.Int32).alias("interaction_partition"),
            pl.col("kafka_offset").cast(pl.Int64).alias("interaction_offset"),
        )
    )
    return RawSnapshot(RAW_EVENTS.path(lake_uri, prefix), table.version(), coordinates)


def add_interaction_coordinates(turns: pl.DataFrame, raw: RawSnapshot | None) -> pl.DataFrame:
    """Add the interaction_* columns: from raw_events when given, else nulls."""
    if raw is None:
        return turns.with_columns(
            pl.lit(None, dtype=dtype).alias(name) for name, dtype in INTERACTION_COLUMNS.items()
        )
    return turns.join(raw.coordinates, on="event_id", how="left", maintain_order="left")
