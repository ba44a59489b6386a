"""Per-turn evidence derived from the enriched columns: what the filters and miners decide on.

Everything here is a polars expression over one table version, so it runs vectorised and the
same evidence feeds SFT, preferences, KTO and the monitor.
"""

import polars as pl

__all__ = [
    "NEGATIVE_OUTCOMES",
    "TOOL_FAILURES",
    "add_turn_features",
    "normalized_text",
    "retried_turn_ids",
]

NEGATIVE_OUTCOMES = ("abandoned", "failed", "escalated")
TOOL_FAILURES = ("error", "timeout")
# Ratings at or above this are positive, at or below NEGATIVE_RATING negative (1-5 scale).
POSITIVE_RATING = 4
NEGATIVE_RATING = 2


def normalized_text(column: str | pl.Expr) -> pl.Expr:
    """Lower case, punctuation and spacing folded, digit runs folded to `0`: near-duplicate key.

    "Where is order #12345?" and "where is order 98765" share a key; this is the "normalized
    prompt hash" of the issue, kept as text because equality is all dedup needs.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    return (
        expr.fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"\d+", "0")
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def _feedback_any(condition: pl.Expr) -> pl.Expr:
    return pl.col("feedback").list.eval(condition).list.any().fill_null(False)


def _is_positive(element: pl.Expr) -> pl.Expr:
    kind = element.struct.field("kind")
    return ((kind == "thumbs") & element.struct.field("thumbs_up").fill_null(False)) | (
        (kind == "rating") & (element.struct.field("rating").fill_null(0) >= POSITIVE_RATING)
    )


def _is_negative(element: pl.Expr) -> pl.Expr:
    kind = element.struct.field("kind")
    return (
        ((kind == "thumbs") & ~element.struct.field("thumbs_up").fill_null(True))
        | ((kind == "rating") & (element.struct.field("rating").fill_null(5) <= NEGATIVE_RATING))
        | (kind == "correction")
    )


def retried_turn_ids(turns: pl.DataFrame) -> pl.Series:
    """event_ids of turns the user retried: `retried` signals' targets and later `retry_of`s.

    A `retried` signal that names no turn counts against the session's latest turn before it
    (the client knew the user asked again, not which answer they rejected).
    """
    signals = (
        turns.select("session_id", "signals")
        .filter(pl.col("signals").list.len() > 0)
        .explode("signals")
        .unnest("signals")
        .filter(pl.col("kind") == "retried")
    )
    named = signals.get_column("interaction_id")
    anonymous = (
        signals.filter(pl.col("interaction_id").is_null())
        .select("session_id", "event_id", pl.col("event_time").alias("_signal_time"))
        .unique()
    )
    if anonymous.height:
        earlier = (
            anonymous.sort("_signal_time")
            .join_asof(
                turns.select(
                    "session_id", pl.col("event_time").alias("_turn_time"), "event_id"
                ).sort("_turn_time"),
                left_on="_signal_time",
                right_on="_turn_time",
                by="session_id",
                strategy="backward",
                allow_exact_matches=False,
                check_sortedness=False,  # sorted by time above; the check cannot see groups
                suffix="_turn",
            )
            .get_column("event_id_turn")
        )
        named = pl.concat([named, earlier])
    return pl.concat([named, turns["retry_of"]]).drop_nulls().unique().sort()


def add_turn_features(turns: pl.DataFrame) -> pl.DataFrame:
    """Add the evidence columns every selector uses.

    - `system_prompt`: context["system_prompt"] or null;
    - `turn_positive` / `turn_negative`: explicit feedback on this very turn (thumbs, 1-5 rating;
      a correction is negative for the original answer);
    - `session_positive` / `session_negative`: feedback given to the whole session;
    - `retried`: the user asked again (a `retried` signal on this turn, or a later turn's
      `retry_of` points at it);
    - `tool_failed`: a tool call ended in error or timeout;
    """
    element = pl.element()
    turn_level = ~element.struct.field("session_level")
    return turns.with_columns(
        system_prompt=pl.col("context").map.get("system_prompt"),
        turn_positive=_feedback_any(turn_level & _is_positive(element)),
        turn_negative=_feedback_any(turn_level & _is_negative(element)),
        session_positive=_feedback_any(~turn_level & _is_positive(element)),
        session_negative=_feedback_any(~turn_level & _is_negative(element)),
        retried=pl.col("event_id").is_in(retried_turn_ids(turns).implode()),
        tool_failed=pl.col("tools_used")
        .list.eval(element.struct.field("status").is_in(TOOL_FAILURES))
        .list.any()
        .fill_null(False),
    )
