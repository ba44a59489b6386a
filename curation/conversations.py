"""The turns an example is built from: its target turn and the earlier turns of its session,
PII-scrubbed, with the keys that exact and near-duplicate removal compare.
"""

import polars as pl

from curation.features import normalized_text
from curation.pii import scrub_frame

__all__ = [
    "HISTORY_FIELDS",
    "attach_history",
    "conversation_keys",
    "involved_turns",
    "keep_best",
    "scrub_turns",
]

# What an example keeps of each earlier turn (text for the messages, ids for the lineage).
HISTORY_FIELDS = [
    "event_id",
    "turn_index",
    "prompt",
    "prompt_key",
    "response",
    "tools_used",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "interaction_topic",
    "interaction_partition",
    "interaction_offset",
]
TEXT_COLUMNS = ["prompt", "response", "corrected_response", "system_prompt"]


def involved_turns(turns: pl.DataFrame, targets: pl.DataFrame, max_history: int) -> pl.DataFrame:
    """Turns any example needs: each target and up to `max_history` earlier turns of it."""
    if targets.is_empty():
        return turns.clear()
    bounds = targets.group_by("session_id").agg(
        pl.col("turn_index").max().alias("_last"), pl.col("turn_index").min().alias("_first")
    )
    return (
        turns.join(bounds, on="session_id", how="inner")
        .filter(
            (pl.col("turn_index") <= pl.col("_last"))
            & (pl.col("turn_index") >= pl.col("_first") - max_history)
        )
        .drop("_last", "_first")
        .sort(["session_id", "turn_index", "event_id"])
    )


def scrub_turns(turns: pl.DataFrame, enabled: bool) -> tuple[pl.DataFrame, dict[str, int]]:
    """Scrub every text that can reach an output file; recompute the prompt key afterwards."""
    counts: dict[str, int] = {}
    if not enabled:
        scrubbed = turns
    else:
        scrubbed, counts = scrub_frame(turns, TEXT_COLUMNS, tool_columns=("tools_used",))
    return scrubbed.with_columns(prompt_key=normalized_text("prompt")), counts


def attach_history(
    examples: pl.DataFrame, turns: pl.DataFrame, max_history: int, anchor: str = "turn_index"
) -> pl.DataFrame:
    """Add `history`: the earlier turns of each example's session (oldest first, at most
    `max_history`), as a list of structs of HISTORY_FIELDS. `anchor` names the turn index the
    history ends before.
    """
    earlier = turns.select(
        "session_id",
        pl.col("turn_index").alias("_history_index"),
        pl.struct(HISTORY_FIELDS).alias("_turn"),
    )
    keyed = examples.with_row_index("_example")
    history = (
        keyed.select("_example", "session_id", pl.col(anchor).alias("_anchor"))
        .join(earlier, on="session_id", how="inner")
        .filter(
            (pl.col("_history_index") < pl.col("_anchor"))
            & (pl.col("_history_index") >= pl.col("_anchor") - max_history)
        )
        .sort(["_example", "_history_index"])
        .group_by("_example", maintain_order=True)
        .agg(pl.col("_turn").alias("history"))
    )
    empty = pl.lit([], dtype=pl.List(earlier.schema["_turn"]))
    return (
        keyed.join(history, on="_example", how="left")
        .sort("_example")
        .with_columns(pl.col("history").fill_null(empty))
        .drop("_example")
    )


def conversation_keys(answer_column: str | None = "target_text") -> list[pl.Expr]:
    """`exact_key`: the conversation's texts as they are; `near_key`: normalized user prompts.

    Near duplicates are examples whose user side normalizes the same way (case, punctuation,
    digits folded): keeping one of them stops the dataset from over-weighting a prompt.
    """
    history_prompts = pl.col("history").list.eval(pl.element().struct.field("prompt"))
    history_answers = pl.col("history").list.eval(pl.element().struct.field("response"))
    history_keys = pl.col("history").list.eval(pl.element().struct.field("prompt_key"))
    exact_parts = [
        pl.col("system_prompt").fill_null(""),
        history_prompts.list.join("\u241e"),
        history_answers.list.join("\u241e"),
        pl.col("prompt"),
    ]
    if answer_column is not None:
        exact_parts.append(pl.col(answer_column))
    return [
        pl.concat_str(exact_parts, separator="\u241f").alias("exact_key"),
        pl.concat_str([history_keys.list.join("\n"), pl.col("prompt_key")], separator="\n").alias(
            "near_key"
        ),
    ]


def keep_best(
    frame: pl.DataFrame,
    key: str,
    rank: list[str],
    descending: list[bool],
    tie: str = "event_id",
) -> pl.DataFrame:
    """One row per `key`: the first by `rank`, ties broken by `tie` so runs agree."""
    return frame.sort([*rank, tie], descending=[*descending, False]).unique(
        subset=[key], keep="first", maintain_order=True
    )
