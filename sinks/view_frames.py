"""The lake views' rows: `turns` and `feedback` computed from `enriched_interactions` (pure).

`enriched_interactions` is the processor's output as it streamed: one row per *revision* of a turn
(late feedback revises it), possibly a byte-identical duplicate after a processor crash, and each
row nests the feedback that concerns the turn, session-level feedback copied onto every turn of
its session. Counting on it directly counts revisions and copies. The views undo both:

- `turns`: one row per turn, its highest revision; the nested feedback is replaced by
  `feedback_events` and `first_feedback_at` (what the coverage metric needs), and the session's
  agent (`session_agent_id` / `session_agent_version`: its first turn's, for which the
  processor's metrics count the session's outcome) and `opens_session` (true on the session's
  first turn: count sessions with it). A turn counts for its own `agent_id` / `agent_version`.
- `feedback`: one row per feedback event, `level` = `turn` (with `interaction_id`) or `session`
  (`interaction_id` null), attributed like the metrics do: to the turn's agent, or the
  session's.

A session is `(session_id, session_closed_at)`: a session id used again after its grace period is
a new session. The session's first turn is its earliest in the contract's order (event time,
then event id).

Polars does the work (explode, group, join) in Rust; no per-row Python.
"""

import polars as pl
import pyarrow as pa

__all__ = ["FEEDBACK_COLUMNS", "feedback_frame", "latest_turns", "turns_frame"]

_SESSION = ["session_id", "session_closed_at"]
_LINEAGE = ["kafka_topic", "kafka_partition", "kafka_offset"]
FEEDBACK_COLUMNS = [
    "event_id",
    "session_id",
    "level",
    "interaction_id",
    "event_time",
    "kind",
    "thumbs_up",
    "rating",
    "correction",
    "comment",
    "source",
    "rater_id",
    "agent_id",
    "agent_version",
    "session_outcome",
    "session_closed_at",
    "event_date",
]


def latest_turns(enriched: pl.DataFrame) -> pl.DataFrame:
    """One row per turn `event_id`: its highest revision (of duplicates, the first read)."""
    order = ["event_id", "revision", *[c for c in _LINEAGE if c in enriched.columns]]
    descending = [False, True, *[False] * (len(order) - 2)]
    ordered = enriched.sort(order, descending=descending)
    return ordered.unique(subset=["event_id"], keep="first", maintain_order=True)


def _session_agents(turns: pl.DataFrame) -> pl.DataFrame:
    """Per session: its first turn's event id and agent."""
    return (
        turns.sort(["event_time", "event_id"])
        .group_by(_SESSION, maintain_order=True)
        .agg(
            pl.col("event_id").first().alias("first_turn_id"),
            pl.col("agent_id").first().alias("session_agent_id"),
            pl.col("agent_version").first().alias("session_agent_version"),
        )
    )


def turns_frame(enriched: pl.DataFrame) -> pl.DataFrame:
    """The `turns` view of `enriched` (any number of revisions and duplicates)."""
    turns = latest_turns(enriched)
    agents = _session_agents(turns)
    joined = turns.join(agents, on=_SESSION, how="left", nulls_equal=True)
    feedback_times = pl.col("feedback").list.eval(pl.element().struct.field("event_time"))
    return (
        joined.with_columns(
            pl.col("feedback").list.len().fill_null(0).cast(pl.Int32).alias("feedback_events"),
            feedback_times.list.min().alias("first_feedback_at"),
            (pl.col("event_id") == pl.col("first_turn_id")).alias("opens_session"),
        )
        .drop("feedback", "first_turn_id")
        .sort(["event_time", "event_id"])
    )


def feedback_frame(enriched: pl.DataFrame) -> pl.DataFrame:
    """The `feedback` view of `enriched`: each joined feedback event once."""
    turns = latest_turns(enriched)
    agents = _session_agents(turns)
    items = (
        turns.select(
            pl.col("event_id").alias("turn_id"),
            pl.col("agent_id").alias("turn_agent_id"),
            pl.col("agent_version").alias("turn_agent_version"),
            *_SESSION,
            "session_outcome",
            "feedback",
        )
        .explode("feedback")
        .filter(pl.col("feedback").is_not_null())
    )
    if items.is_empty():
        return _empty_feedback(enriched)
    items = items.with_columns(pl.col("feedback").struct.unnest()).drop("feedback")
    level_turn = ~pl.col("session_level")
    rows = (
        items.with_columns(
            pl.when(level_turn).then(pl.lit("turn")).otherwise(pl.lit("session")).alias("level"),
            pl.when(level_turn).then(pl.col("turn_id")).alias("interaction_id"),
            pl.col("event_time").dt.date().alias("event_date"),
        )
        # A session-level event shows on every turn of its session: keep it once.
        .sort(["session_id", "event_id", "turn_id"])
        .unique(subset=[*_SESSION, "event_id"], keep="first", maintain_order=True)
        .join(agents, on=_SESSION, how="left", nulls_equal=True)
        # On a turn: that turn's agent (a handoff, a deploy mid-session); else the session's.
        .with_columns(
            pl.when(level_turn)
            .then(pl.col("turn_agent_id"))
            .otherwise(pl.col("session_agent_id"))
            .alias("agent_id"),
            pl.when(level_turn)
            .then(pl.col("turn_agent_version"))
            .otherwise(pl.col("session_agent_version"))
            .alias("agent_version"),
        )
    )
    return rows.select(FEEDBACK_COLUMNS).sort(["event_time", "event_id"])


def _empty_feedback(enriched: pl.DataFrame) -> pl.DataFrame:
    """No feedback at all: an empty frame with the view's columns and types."""
    item = enriched.schema["feedback"]
    assert isinstance(item, pl.List) and isinstance(item.inner, pl.Struct)
    fields = {f.name: f.dtype for f in item.inner.fields}
    schema = {
        **{name: fields[name] for name in FEEDBACK_COLUMNS if name in fields},
        "session_id": pl.String,
        "level": pl.String,
        "interaction_id": pl.String,
        "agent_id": pl.String,
        "agent_version": pl.String,
        "session_outcome": enriched.schema["session_outcome"],
        "session_closed_at": enriched.schema["session_closed_at"],
        "event_date": pl.Date,
    }
    return pl.DataFrame(schema=schema).select(FEEDBACK_COLUMNS)


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """Arrow with plain (not view) string types, which every Delta reader understands."""
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    return table
