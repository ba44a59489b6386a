"""Unpaired KTO examples: prompt, completion and a desirable / undesirable label."""

from typing import Any

import polars as pl
import pyarrow as pa

from curation.chat import MESSAGE_TYPE, context_messages
from curation.conversations import keep_best
from curation.examples import lineage, with_answer, with_context
from curation.features import normalized_text
from curation.lineage import LINEAGE_FIELDS
from curation.options import CurationOptions
from curation.selection import (
    FilterLog,
    LabelThresholds,
    chosen_label,
    length_rule,
    rejected_label,
)

__all__ = ["KTO_SCHEMA", "kto_candidates", "kto_rows"]

KTO_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("prompt", pa.list_(MESSAGE_TYPE)),
        pa.field("completion", pa.list_(MESSAGE_TYPE)),
        pa.field("label", pa.bool_()),
        pa.field("answer_source", pa.string()),
        *LINEAGE_FIELDS,
        pa.field("agent_id", pa.string()),
        pa.field("agent_version", pa.string()),
        pa.field("reward", pa.float64()),
    ]
)


def kto_candidates(
    turns: pl.DataFrame, options: CurationOptions, thresholds: LabelThresholds | None = None
) -> pl.DataFrame:
    """(event_id, target, label): accepted answers and corrections are desirable, rejected
    answers undesirable (`thresholds`: the label model's, see `selection.label_thresholds`)."""
    desirable = pl.concat(
        [
            turns.filter(chosen_label(options, thresholds)).select(
                "event_id", pl.lit("response").alias("target")
            ),
            turns.filter(pl.col("corrected_response").is_not_null()).select(
                "event_id", pl.lit("correction").alias("target")
            ),
        ]
    ).with_columns(label=pl.lit(True))
    undesirable = turns.filter(rejected_label(options, thresholds)).select(
        "event_id", pl.lit("response").alias("target"), pl.lit(False).alias("label")
    )
    return pl.concat([desirable, undesirable])


def kto_rows(
    kto: pl.DataFrame,
    involved: pl.DataFrame,
    options: CurationOptions,
    delta_version: int,
    log: FilterLog,
) -> dict[str, list[dict[str, Any]]]:
    frame = kto.with_columns(answer_id=pl.col("event_id")).rename({"event_id": "prompt_id"})
    frame = with_context(frame, involved, options, "prompt_id")
    frame = with_answer(frame, involved, "answer", pl.col("target"))
    frame = log.apply(
        frame,
        "kto_length",
        "prompt and completion within the length limits",
        length_rule(options, "answer_text"),
    )
    frame = frame.with_columns(
        kto_exact=pl.concat_str(["exact_key", "answer_text"], separator="\u241f"),
        kto_near=pl.concat_str(["near_key", normalized_text("answer_text")], separator="\u241f"),
        _score=pl.col("label").cast(pl.Int8),
        _tie=pl.concat_str(["prompt_id", "target"]),
    )
    if options.dedup != "none":
        frame = log.transform(
            frame,
            "kto_exact_dedup",
            "identical prompt and completion",
            lambda f: keep_best(f, "kto_exact", ["_score"], [True], tie="_tie"),
        )
    if options.dedup == "near":
        frame = log.transform(
            frame,
            "kto_near_dedup",
            "same normalized prompt and completion",
            lambda f: keep_best(f, "kto_near", ["_score"], [True], tie="_tie"),
        )
    frame = frame.sort(["session_id", "turn_index", "prompt_id", "target"])
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "eval": []}
    for example in frame.iter_rows(named=True):
        suffix = ":correction" if example["target"] == "correction" else ""
        rows[example["split"]].append(
            {
                "id": f"{example['prompt_id']}{suffix}",
                "prompt": context_messages(
                    example["system_prompt"], example["history"], example["prompt"]
                ),
                "completion": [{"role": "assistant", "content": example["answer_text"]}],
                "label": example["label"],
                "answer_source": example["target"],
                **lineage(example, [], delta_version),
                "agent_id": example["agent_id"],
                "agent_version": example["agent_version"],
                "reward": example["answer_reward"],
            }
        )
    return rows
