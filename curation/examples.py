"""What pairs and KTO examples share: a prompt turn with its (scrubbed) conversation, the
answers attached to it, and the lineage of all the turns involved.
"""

from typing import Any

import polars as pl

from curation.conversations import attach_history, conversation_keys
from curation.lineage import coordinates
from curation.options import CurationOptions

__all__ = ["answer_text", "lineage", "with_answer", "with_context"]


def answer_text(prefix: str, target: pl.Expr) -> pl.Expr:
    """The answer a side stands for: the correction or the turn's own response."""
    return (
        pl.when(target == "correction")
        .then(pl.col(f"{prefix}corrected_response"))
        .otherwise(pl.col(f"{prefix}response"))
    )


def with_context(
    frame: pl.DataFrame, involved: pl.DataFrame, options: CurationOptions, prompt_column: str
) -> pl.DataFrame:
    """Join the prompt turn (scrubbed) and its history onto `frame`."""
    prompt_turns = involved.select(
        pl.col("event_id").alias(prompt_column),
        "session_id",
        "turn_index",
        "agent_id",
        "agent_version",
        "system_prompt",
        "prompt",
        "prompt_key",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "interaction_topic",
        "interaction_partition",
        "interaction_offset",
        "split",
    )
    joined = frame.join(prompt_turns, on=prompt_column, how="inner")
    return attach_history(joined, involved, options.max_history_turns).with_columns(
        conversation_keys(None)
    )


def with_answer(
    frame: pl.DataFrame, involved: pl.DataFrame, side: str, target: pl.Expr
) -> pl.DataFrame:
    """Join the answer turn `<side>_id` (scrubbed): its text as `<side>_text`, reward, lineage."""
    answers = involved.select(
        pl.col("event_id").alias(f"{side}_id"),
        pl.col("session_id").alias(f"{side}_session_id"),
        pl.col("response").alias(f"{side}_response"),
        pl.col("corrected_response").alias(f"{side}_corrected_response"),
        pl.col("reward").alias(f"{side}_reward"),
        pl.col("kafka_topic").alias(f"{side}_kafka_topic"),
        pl.col("kafka_partition").alias(f"{side}_kafka_partition"),
        pl.col("kafka_offset").alias(f"{side}_kafka_offset"),
        pl.col("interaction_topic").alias(f"{side}_interaction_topic"),
        pl.col("interaction_partition").alias(f"{side}_interaction_partition"),
        pl.col("interaction_offset").alias(f"{side}_interaction_offset"),
    )
    joined = frame.join(answers, on=f"{side}_id", how="inner")
    return joined.with_columns(answer_text(f"{side}_", target).alias(f"{side}_text"))


def lineage(record: dict[str, Any], answers: list[str], delta_version: int) -> dict[str, Any]:
    """Session, event ids and Kafka coordinates of the prompt's turns and of the answers."""
    turns = [*record["history"], {**record, "event_id": record["prompt_id"]}]
    seen = {turn["event_id"] for turn in turns}
    for side in answers:
        if record[f"{side}_id"] not in seen:
            seen.add(record[f"{side}_id"])
            turns.append(
                {
                    "event_id": record[f"{side}_id"],
                    "kafka_topic": record[f"{side}_kafka_topic"],
                    "kafka_partition": record[f"{side}_kafka_partition"],
                    "kafka_offset": record[f"{side}_kafka_offset"],
                    "interaction_topic": record[f"{side}_interaction_topic"],
                    "interaction_partition": record[f"{side}_interaction_partition"],
                    "interaction_offset": record[f"{side}_interaction_offset"],
                }
            )
    return {
        "session_id": record["session_id"],
        "event_ids": [turn["event_id"] for turn in turns],
        "kafka_coordinates": coordinates(turns),
        "delta_version": delta_version,
    }
