"""Preference pairs (prompt, chosen, rejected) for DPO/RLHF, built with the KTO examples.

Pairs are mined three ways, each documented in docs/curation.md:
- correction: the user's or reviewer's correction beats the original answer;
- retry: the accepted retry beats the attempt the user retried (same session, same prompt);
- thumbs: an accepted answer beats a rejected one to the same normalized prompt (any session
  of the same split, so no session crosses splits).
"""

from typing import Any

import polars as pl
import pyarrow as pa

from curation.chat import MESSAGE_TYPE, context_messages
from curation.conversations import involved_turns, keep_best, scrub_turns
from curation.examples import lineage, with_answer, with_context
from curation.features import normalized_text
from curation.kto import kto_candidates, kto_rows
from curation.labels import LABEL_COLUMN, precision_threshold
from curation.lineage import LINEAGE_FIELDS
from curation.options import CurationOptions
from curation.selection import (
    FilterLog,
    LabelThresholds,
    accepted_retry,
    chosen_label,
    label_thresholds,
    length_rule,
    rejected_label,
    with_labels,
)
from curation.split import assign_split

__all__ = ["PAIR_SCHEMA", "PreferenceBuild", "build_preferences", "mine_pairs"]

_MESSAGES = pa.list_(MESSAGE_TYPE)
PAIR_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("prompt", _MESSAGES),
        pa.field("chosen", _MESSAGES),
        pa.field("rejected", _MESSAGES),
        pa.field("pair_source", pa.string()),
        pa.field("chosen_event_id", pa.string()),
        pa.field("rejected_event_id", pa.string()),
        pa.field("rejected_session_id", pa.string()),
        *LINEAGE_FIELDS,
        pa.field("agent_id", pa.string()),
        pa.field("agent_version", pa.string()),
        pa.field("chosen_reward", pa.float64()),
        pa.field("rejected_reward", pa.float64()),
    ]
)
_PAIR_COLUMNS = ["pair_source", "prompt_id", "chosen_id", "chosen_target", "rejected_id"]


class PreferenceBuild:
    """The result of `build_preferences`: pair and KTO rows per split, log and PII counts."""

    def __init__(
        self,
        pairs: dict[str, list[dict[str, Any]]],
        kto: dict[str, list[dict[str, Any]]],
        log: FilterLog,
        pii: dict[str, int],
        label_model: dict[str, Any] | None = None,
    ) -> None:
        self.pairs = pairs
        self.kto = kto
        self.log = log
        self.pii = pii
        # The label model's thresholds and target (None with explicit_praise).
        self.label_model = label_model


def mine_pairs(
    turns: pl.DataFrame,
    options: CurationOptions,
    log: FilterLog,
    thresholds: LabelThresholds | None = None,
) -> pl.DataFrame:
    """(pair_source, prompt_id, chosen_id, chosen_target, rejected_id) of every mined pair.

    `turns` must carry the features and a `split` column (and, for the label model, its
    probability: `selection.with_labels`).
    """
    if options.selection == "label_model" and thresholds is None:
        thresholds = label_thresholds(turns, options)
    chosen = turns.filter(chosen_label(options, thresholds))
    rejected = turns.filter(rejected_label(options, thresholds))

    corrections = turns.filter(
        pl.col("corrected_response").is_not_null()
        & (normalized_text("corrected_response") != normalized_text("response"))
        & ~pl.col("turn_positive")
    ).select(
        pl.lit("correction").alias("pair_source"),
        pl.col("event_id").alias("prompt_id"),
        pl.col("event_id").alias("chosen_id"),
        pl.lit("correction").alias("chosen_target"),
        pl.col("event_id").alias("rejected_id"),
    )
    log.note(
        "correction_pairs",
        "a correction beats the answer it corrects",
        turns.height,
        corrections.height,
    )

    retries = (
        turns.filter(accepted_retry(options, thresholds) & pl.col("retry_of").is_not_null())
        .select("event_id", "retry_of", "session_id")
        .join(
            rejected.select(pl.col("event_id").alias("retry_of"), "session_id"),
            on=["retry_of", "session_id"],
            how="inner",
        )
        .select(
            pl.lit("retry").alias("pair_source"),
            pl.col("retry_of").alias("prompt_id"),
            pl.col("event_id").alias("chosen_id"),
            pl.lit("response").alias("chosen_target"),
            pl.col("retry_of").alias("rejected_id"),
        )
    )
    log.note(
        "retry_pairs",
        "an accepted retry beats the attempt it retried",
        turns.height,
        retries.height,
    )

    if options.selection == "explicit_praise":
        rejected = rejected.filter(pl.col("turn_negative"))
    thumbs = _thumbs_pairs(chosen, rejected, options)
    log.note(
        "thumbs_pairs",
        f"accepted beats rejected for the same normalized prompt and split "
        f"(at most {options.max_pairs_per_prompt} per prompt)",
        turns.height,
        thumbs.height,
    )
    pairs = pl.concat([corrections, retries, thumbs]).select(_PAIR_COLUMNS)
    if options.selection == "label_model":
        pairs = _oriented_pairs(pairs, turns, options, log)
    return pairs


def _oriented_pairs(
    pairs: pl.DataFrame, turns: pl.DataFrame, options: CurationOptions, log: FilterLog
) -> pl.DataFrame:
    """The largest set of pairs, likeliest first, whose expected share of correctly oriented
    pairs reaches the target precision.

    A pair is right when the chosen answer is good and the rejected one bad; when both are
    good or both bad, a coin flip. A correction is a person's good answer.
    """
    probability = turns.select("event_id", LABEL_COLUMN)
    scored = pairs.join(
        probability.rename({"event_id": "chosen_id", LABEL_COLUMN: "_p_chosen"}),
        on="chosen_id",
        how="left",
    ).join(
        probability.rename({"event_id": "rejected_id", LABEL_COLUMN: "_p_rejected"}),
        on="rejected_id",
        how="left",
    )
    chosen = pl.when(pl.col("chosen_target") == "correction").then(1.0).otherwise("_p_chosen")
    rejected = pl.col("_p_rejected")
    scored = scored.with_columns(
        _oriented=chosen * (1 - rejected)
        + 0.5 * (chosen * rejected + (1 - chosen) * (1 - rejected))
    )
    cut = precision_threshold(scored.get_column("_oriented").to_numpy(), options.target_precision)
    kept = scored.filter(pl.col("_oriented") >= cut)
    log.note(
        "pair_label_model",
        f"expected share of correctly oriented pairs >= {options.target_precision} "
        "(label model probabilities of both sides)",
        scored.height,
        kept.height,
    )
    return kept.select(_PAIR_COLUMNS)


def _thumbs_pairs(
    chosen: pl.DataFrame, rejected: pl.DataFrame, options: CurationOptions
) -> pl.DataFrame:
    group = ["split", "prompt_key"]

    rank = LABEL_COLUMN if options.selection == "label_model" else "reward"

    def ranked(frame: pl.DataFrame, best_first: bool) -> pl.DataFrame:
        return (
            frame.sort([*group, rank, "event_id"], descending=[False, False, best_first, False])
            .with_columns(_rank=pl.int_range(pl.len()).over(group))
            .filter(pl.col("_rank") < options.max_pairs_per_prompt)
            .select(*group, "_rank", "event_id")
        )

    # Normalizing text is the costly part: only the few candidate turns get a key.
    chosen = chosen.with_columns(prompt_key=normalized_text("prompt"))
    rejected = rejected.with_columns(prompt_key=normalized_text("prompt"))
    ups = ranked(chosen, best_first=True).rename({"event_id": "chosen_id"})
    downs = ranked(rejected, best_first=False).rename({"event_id": "rejected_id"})
    return ups.join(downs, on=[*group, "_rank"], how="inner").select(
        pl.lit("thumbs").alias("pair_source"),
        pl.col("chosen_id").alias("prompt_id"),
        "chosen_id",
        pl.lit("response").alias("chosen_target"),
        "rejected_id",
    )


def build_preferences(
    turns: pl.DataFrame, options: CurationOptions, delta_version: int, log: FilterLog
) -> PreferenceBuild:
    """Mine, scrub, deduplicate and split preference pairs and KTO examples."""
    turns = assign_split(with_labels(turns), options.eval_share, options.split_salt)
    thresholds = label_thresholds(turns, options) if options.selection == "label_model" else None
    pairs = mine_pairs(turns, options, log, thresholds)
    kto = kto_candidates(turns, options, thresholds)
    log.note(
        "kto_candidates",
        "desirable: accepted or corrected; undesirable: rejected",
        turns.height,
        kto.height,
    )

    needed = pl.concat(
        [
            pairs.select(pl.col(c).alias("event_id"))
            for c in ("prompt_id", "chosen_id", "rejected_id")
        ]
        + [kto.select("event_id")]
    ).unique()
    anchors = turns.join(needed, on="event_id", how="semi")
    involved, pii = scrub_turns(
        involved_turns(turns, anchors, options.max_history_turns), options.scrub_pii
    )
    pair_rows = _pair_rows(pairs, involved, options, delta_version, log)
    label_model = (
        None
        if thresholds is None
        else {"target_precision": options.target_precision, **thresholds.as_dict()}
    )
    return PreferenceBuild(
        pair_rows, kto_rows(kto, involved, options, delta_version, log), log, pii, label_model
    )


def _pair_rows(
    pairs: pl.DataFrame,
    involved: pl.DataFrame,
    options: CurationOptions,
    delta_version: int,
    log: FilterLog,
) -> dict[str, list[dict[str, Any]]]:
    frame = with_context(pairs, involved, options, "prompt_id")
    frame = with_answer(frame, involved, "chosen", pl.col("chosen_target"))
    frame = with_answer(frame, involved, "rejected", pl.lit("response"))
    frame = log.apply(
        frame,
        "pair_length",
        "prompt and both answers within the length limits",
        length_rule(options, "chosen_text") & length_rule(options, "rejected_text"),
    )
    frame = log.apply(
        frame,
        "pair_distinct",
        "chosen and rejected differ after normalization",
        normalized_text("chosen_text") != normalized_text("rejected_text"),
    )
    frame = frame.with_columns(
        pair_exact=pl.concat_str(["exact_key", "chosen_text", "rejected_text"], separator="\u241f"),
        pair_near=pl.concat_str(
            ["near_key", normalized_text("chosen_text"), normalized_text("rejected_text")],
            separator="\u241f",
        ),
        _score=pl.col("chosen_reward") - pl.col("rejected_reward"),
        _tie=pl.concat_str(["pair_source", "chosen_id", "rejected_id"]),
    )
    if options.dedup != "none":
        frame = log.transform(
            frame,
            "pair_exact_dedup",
            "identical prompt, chosen and rejected",
            lambda f: keep_best(f, "pair_exact", ["_score"], [True], tie="_tie"),
        )
    if options.dedup == "near":
        frame = log.transform(
            frame,
            "pair_near_dedup",
            "same normalized prompt, chosen and rejected",
            lambda f: keep_best(f, "pair_near", ["_score"], [True], tie="_tie"),
        )
    frame = frame.sort(["session_id", "turn_index", "pair_source", "chosen_id", "rejected_id"])
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "eval": []}
    for pair in frame.iter_rows(named=True):
        rows[pair["split"]].append(_pair_row(pair, delta_version))
    return rows


def _pair_row(pair: dict[str, Any], delta_version: int) -> dict[str, Any]:
    prompt = context_messages(pair["system_prompt"], pair["history"], pair["prompt"])
    return {
        "id": f"{pair['pair_source']}:{pair['chosen_id']}:{pair['rejected_id']}",
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": pair["chosen_text"]}],
        "rejected": [{"role": "assistant", "content": pair["rejected_text"]}],
        "pair_source": pair["pair_source"],
        "chosen_event_id": pair["chosen_id"],
        "rejected_event_id": pair["rejected_id"],
        "rejected_session_id": pair["rejected_session_id"],
        **lineage(pair, ["chosen", "rejected"], delta_version),
        "agent_id": pair["agent_id"],
        "agent_version": pair["agent_version"],
        # A correction is a human's answer: it has no reward of its own.
        "chosen_reward": None if pair["chosen_target"] == "correction" else pair["chosen_reward"],
        "rejected_reward": pair["rejected_reward"],
    }
