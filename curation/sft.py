"""SFT examples: one per accepted turn (with its conversation so far) or per accepted session."""

from typing import Any

import polars as pl
import pyarrow as pa

from curation.chat import MESSAGE_TYPE, answer_messages, context_messages
from curation.conversations import (
    attach_history,
    conversation_keys,
    involved_turns,
    keep_best,
    scrub_turns,
)
from curation.labels import LABEL_COLUMN, estimate_selection
from curation.lineage import LINEAGE_FIELDS, coordinates
from curation.options import CurationOptions
from curation.selection import FilterLog, label_thresholds, sft_filter_steps, with_labels
from curation.split import assign_split

__all__ = ["SFT_SCHEMA", "SftBuild", "build_sft"]

SFT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("messages", pa.list_(MESSAGE_TYPE)),
        *LINEAGE_FIELDS,
        pa.field("agent_id", pa.string()),
        pa.field("agent_version", pa.string()),
        pa.field("answer_source", pa.string()),
        pa.field("reward", pa.float64()),
        pa.field("reward_confidence", pa.float64()),
        pa.field("reward_source", pa.string()),
        pa.field("label_probability", pa.float64()),
        pa.field("selection_rule", pa.string()),
    ]
)
# What the filter rules read (selected before candidates multiply rows).
_RULE_COLUMNS = [
    "event_id",
    "session_id",
    "turn_index",
    "session_turns",
    "session_outcome",
    "prompt",
    "response",
    "corrected_response",
    "reward",
    "reward_confidence",
    "turn_positive",
    "turn_negative",
    "session_positive",
    "session_negative",
    "retried",
    "tool_failed",
    LABEL_COLUMN,
]
_ROW_COLUMNS = [
    "split",
    "event_id",
    "session_id",
    "target",
    "target_text",
    "system_prompt",
    "prompt",
    "history",
    "tools_used",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "interaction_topic",
    "interaction_partition",
    "interaction_offset",
    "agent_id",
    "agent_version",
    "reward",
    "reward_confidence",
    "reward_source",
    LABEL_COLUMN,
]
# Sessions never have more turns than this many; "unlimited" history for session examples.
_WHOLE_SESSION = 10_000


class SftBuild:
    """The result of `build_sft`: rows per split, the filter log and the PII counts."""

    def __init__(
        self,
        rows: dict[str, list[dict[str, Any]]],
        log: FilterLog,
        pii: dict[str, int],
        label_model: dict[str, Any] | None = None,
    ) -> None:
        self.rows = rows
        self.log = log
        self.pii = pii
        # What the label model expects of the rows (None with explicit_praise).
        self.label_model = label_model


def _candidates(turns: pl.DataFrame, options: CurationOptions) -> pl.DataFrame:
    """One candidate per turn (its own answer) plus one per correction (the corrected answer)."""
    own = turns.with_columns(target=pl.lit("response"), target_text=pl.col("response"))
    if not options.include_corrections or options.unit == "session":
        return own
    corrected = turns.filter(pl.col("corrected_response").is_not_null()).with_columns(
        target=pl.lit("correction"), target_text=pl.col("corrected_response")
    )
    return pl.concat([own, corrected])


def _whole_sessions(selected: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """Last turn of each session whose every turn was selected (the session example's anchor).

    Every turn under the session id: a conversation resumed after its abandonment (or a task
    begun after the last one completed) is a second session under the same id, and the
    example's history holds the turns of both. Counted against one session's
    `session_turns`, the resumed one was left out when both passed, and when only the second
    passed its example trained on the first one's answers, which had not."""
    counts = turns.group_by("session_id").agg(pl.len().alias("_turns"))
    complete = (
        selected.group_by("session_id")
        .agg(pl.len().alias("_selected"))
        .join(counts, on="session_id", how="inner")
        .filter(pl.col("_selected") == pl.col("_turns"))
        .select("session_id")
    )
    return (
        selected.join(complete, on="session_id", how="semi")
        .sort(["session_id", "turn_index", "event_id"])
        .group_by("session_id", maintain_order=True)
        .last()
    )


def _score(options: CurationOptions) -> pl.Expr:
    """Which duplicate to keep: a human correction first, then the likeliest good answer
    (label model) or reward times confidence (explicit_praise)."""
    own = (
        pl.col(LABEL_COLUMN)
        if options.selection == "label_model"
        else pl.col("reward") * pl.col("reward_confidence")
    )
    return (
        pl.when(pl.col("target") == "correction").then(pl.lit(2.0)).otherwise(own).alias("_score")
    )


def _examples(
    candidates: pl.DataFrame, involved: pl.DataFrame, max_history: int, options: CurationOptions
) -> pl.DataFrame:
    """Candidates with their turn's texts, history, dedup keys and score."""
    examples = candidates.select("event_id", "target").join(involved, on="event_id", how="inner")
    examples = examples.with_columns(
        target_text=pl.when(pl.col("target") == "correction")
        .then(pl.col("corrected_response"))
        .otherwise(pl.col("response"))
    )
    examples = attach_history(examples, involved, max_history)
    return examples.with_columns(conversation_keys("target_text")).with_columns(_score(options))


def _distinct_raw_conversations(
    turns: pl.DataFrame, candidates: pl.DataFrame, max_history: int, options: CurationOptions
) -> pl.DataFrame:
    """The candidates that win exact dedup on the texts as they are, before PII scrubbing.

    Identical raw texts are identical once scrubbed, and the same example wins (same score,
    same tie-break), so exact dedup after scrubbing keeps the same rows; only scrubbing, history
    and keys then run on the distinct conversations rather than on every selected turn.

    This pass may keep more than exact dedup will (it only has to keep every winner): with
    short histories and one turn per index, each earlier turn's texts enter the key as a
    64-bit hash of (prompt, answer), read from the rows before it (no join, no string
    building: the cost of this stage on large tables); otherwise the key holds the texts. A
    hash collision (odds ~n^2 / 2^65 for n distinct turns) would drop one conversation.
    """
    texts = ["event_id", "session_id", "turn_index", "system_prompt", "prompt", "response"]
    rank = [LABEL_COLUMN, "reward", "reward_confidence", "corrected_response"]
    raw = involved_turns(turns.select(*texts, *rank), candidates, max_history)
    examples = candidates.select("event_id", "target").join(raw, on="event_id", how="inner")
    answer = (
        pl.when(pl.col("target") == "correction")
        .then(pl.col("corrected_response"))
        .otherwise(pl.col("response"))
    )
    unique_positions = not raw.select(
        pl.struct("session_id", "turn_index").is_duplicated().any()
    ).item()
    if max_history <= _HASHED_HISTORY and unique_positions:
        history = _hashed_history(raw, max_history)
        keyed = examples.join(history, on="event_id", how="left").with_columns(
            exact_key=pl.struct(
                pl.col("system_prompt"), pl.col("_history"), pl.col("prompt"), answer
            ),
            target_text=answer,
        )
    else:
        keyed = _texts_history(raw, examples, max_history).with_columns(target_text=answer)
    winners = keep_best(keyed.with_columns(_score(options)), "exact_key", ["_score"], [True])
    return candidates.join(
        winners.select("event_id", "target"), on=["event_id", "target"], how="semi"
    )


# Histories up to this many turns are keyed by hashes of the rows before (`_hashed_history`).
_HASHED_HISTORY = 16


def _hashed_history(raw: pl.DataFrame, max_history: int) -> pl.DataFrame:
    """Per turn of `raw` (sorted by session and position, one turn per position): a struct of
    the hashes of its earlier turns within `max_history` positions, nearest first."""
    hashed = raw.select(
        "event_id",
        pl.col("session_id").rle_id().alias("_session"),
        "turn_index",
        pl.struct("prompt", "response").hash(seed=0).alias("_hash"),
    )
    fields = []
    for back in range(1, max_history + 1):
        # `raw` is sorted by session: a plain shift, checked to stay in the same session.
        in_window = (pl.col("_session").shift(back) == pl.col("_session")) & (
            pl.col("turn_index").shift(back) >= pl.col("turn_index") - max_history
        )
        fields.append(pl.when(in_window).then(pl.col("_hash").shift(back)).alias(f"_h{back}"))
    history = pl.struct(fields) if fields else pl.lit(None)
    return hashed.select("event_id", history.alias("_history"))


def _texts_history(raw: pl.DataFrame, examples: pl.DataFrame, max_history: int) -> pl.DataFrame:
    """`examples` with `exact_key`: the texts of the conversation, earlier turns joined in."""
    examples = examples.with_row_index("_example")
    earlier = raw.select(
        "session_id",
        pl.col("turn_index").alias("_at"),
        pl.col("prompt").alias("_prompt"),
        pl.col("response").alias("_answer"),
    )
    history = (
        examples.select("_example", "session_id", "turn_index")
        .join(earlier, on="session_id", how="inner")
        .filter(
            (pl.col("_at") < pl.col("turn_index"))
            & (pl.col("_at") >= pl.col("turn_index") - max_history)
        )
        .sort(["_example", "_at"])
        .group_by("_example", maintain_order=True)
        .agg(pl.col("_prompt").str.join("\u241e"), pl.col("_answer").str.join("\u241e"))
    )
    answer = (
        pl.when(pl.col("target") == "correction")
        .then(pl.col("corrected_response"))
        .otherwise(pl.col("response"))
    )
    return examples.join(history, on="_example", how="left").with_columns(
        exact_key=pl.concat_str(
            [
                pl.col("system_prompt").fill_null(""),
                pl.col("_prompt").fill_null(""),
                pl.col("_answer").fill_null(""),
                pl.col("prompt"),
                answer,
            ],
            separator="\u241f",
        )
    )


def build_sft(
    turns: pl.DataFrame, options: CurationOptions, delta_version: int, log: FilterLog
) -> SftBuild:
    """Select, scrub, deduplicate and split SFT examples from featured turns."""
    turns = with_labels(turns)
    thresholds = label_thresholds(turns, options) if options.selection == "label_model" else None
    candidates = _candidates(turns.select(_RULE_COLUMNS), options)
    log.note("candidates", "one per turn, plus one per correction", turns.height, candidates.height)
    candidates = log.apply_all(candidates, sft_filter_steps(options, thresholds))
    max_history = options.max_history_turns
    if options.unit == "session":
        candidates = log.transform(
            candidates,
            "whole_sessions",
            "every turn of the session accepted; one example per session",
            lambda frame: _whole_sessions(frame, turns.select("session_id")),
        )
        max_history = _WHOLE_SESSION

    selected = candidates.height
    if options.dedup != "none":
        candidates = _distinct_raw_conversations(turns, candidates, max_history, options)
    involved, pii = scrub_turns(involved_turns(turns, candidates, max_history), options.scrub_pii)
    examples = _examples(candidates, involved, max_history, options)
    if options.dedup != "none":
        examples = keep_best(examples, "exact_key", ["_score"], [True])
        log.note("exact_dedup", "identical conversation and answer", selected, examples.height)
    if options.dedup == "near":
        examples = log.transform(
            examples,
            "near_dedup",
            "same normalized user prompts (case, punctuation, digits folded)",
            lambda f: keep_best(f, "near_key", ["_score"], [True]),
        )
    examples = assign_split(examples, options.eval_share, options.split_salt).sort(
        ["session_id", "turn_index", "event_id", "target"]
    )
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "eval": []}
    whole = options.unit == "session"
    rule = _rule_name(options, thresholds)
    # Only the columns a row needs cross into Python: nested columns are costly to convert.
    for example in examples.select(_ROW_COLUMNS).iter_rows(named=True):
        rows[example["split"]].append(_sft_row(example, delta_version, whole, rule))
    label_model = None
    if thresholds is not None:
        own = examples.filter(pl.col("target") == "response").get_column(LABEL_COLUMN)
        estimate = estimate_selection(
            own.to_numpy(),
            turns.get_column(LABEL_COLUMN).to_numpy(),
            certain_rows=examples.height - own.len(),
        )
        label_model = {
            "target_precision": options.target_precision,
            **thresholds.as_dict(),
            **estimate.as_dict(),
            "precision_of_agent_answers": round(float(own.to_numpy().mean()), 4)
            if own.len()
            else None,
        }
    return SftBuild(rows, log, pii, label_model)


def _rule_name(options: CurationOptions, thresholds: Any) -> str:
    if thresholds is None:
        return "explicit_praise"
    return f"label_model:p>={thresholds.accept:.4f}"


def _sft_row(
    example: dict[str, Any], delta_version: int, whole_session: bool, rule: str
) -> dict[str, Any]:
    history = example["history"]
    messages = context_messages(
        example["system_prompt"],
        history,
        example["prompt"],
        history_weight=None if whole_session else 0,
    )
    is_correction = example["target"] == "correction"
    # A correction is the text the agent should have answered: the original tool calls stay out.
    tools = None if is_correction else example["tools_used"]
    messages.extend(answer_messages(example["event_id"], example["target_text"], tools))
    turns = [*history, example]
    return {
        "id": example["session_id"] if whole_session else _example_id(example),
        "messages": messages,
        "session_id": example["session_id"],
        "event_ids": [turn["event_id"] for turn in turns],
        "kafka_coordinates": coordinates(turns),
        "delta_version": delta_version,
        "agent_id": example["agent_id"],
        "agent_version": example["agent_version"],
        "answer_source": example["target"],
        "reward": example["reward"],
        "reward_confidence": example["reward_confidence"],
        "reward_source": example["reward_source"],
        # A correction is a person's answer: kept as such, whatever the original's probability.
        "label_probability": None if is_correction else example[LABEL_COLUMN],
        "selection_rule": "correction" if is_correction else rule,
    }


def _example_id(example: dict[str, Any]) -> str:
    suffix = ":correction" if example["target"] == "correction" else ""
    return f"{example['event_id']}{suffix}"
