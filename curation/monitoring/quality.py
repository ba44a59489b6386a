"""Feedback-quality statistics per agent version, as plain functions over lake frames.

- coverage: share of turns with explicit feedback (turn- or session-level);
- agreement: share of turns whose explicit sign (praise vs complaint) matches the implicit one
  (session completed vs failed/abandoned/escalated; a retried turn is negative);
- drift: population stability index (PSI) of the feedback distribution (thumbs up/down,
  ratings 1-5, corrections) between a reference window and the current one;
- positive rate: positive / (positive + negative) explicit feedback, for regressions;
- rater activity: feedback count and repeated feedback (same rater, same target) per rater.
"""

import math

import polars as pl

from curation.features import NEGATIVE_OUTCOMES, NEGATIVE_RATING, POSITIVE_RATING

__all__ = [
    "FEEDBACK_CATEGORIES",
    "VERSION",
    "agreement",
    "coverage",
    "explode_feedback",
    "feedback_distribution",
    "population_stability_index",
    "positive_rates",
    "rater_activity",
    "two_proportion_z",
]

VERSION = ["agent_id", "agent_version"]
FEEDBACK_CATEGORIES = (
    "thumbs_up",
    "thumbs_down",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "correction",
)


def explode_feedback(turns: pl.DataFrame) -> pl.DataFrame:
    """One row per feedback event (session-level feedback is joined to every turn: kept once),
    with its agent version, category and sign (+1, -1, or 0 for neutral and comments).
    """
    rows = (
        turns.select(*VERSION, "session_id", pl.col("event_id").alias("turn_id"), "feedback")
        .explode("feedback")
        .drop_nulls("feedback")
        .unnest("feedback")
        .rename({"event_id": "feedback_id"})
        .sort(["feedback_id", "turn_id"])
        .unique(subset=["feedback_id"], keep="first", maintain_order=True)
    )
    category = (
        pl.when(pl.col("kind") == "thumbs")
        .then(
            pl.when(pl.col("thumbs_up")).then(pl.lit("thumbs_up")).otherwise(pl.lit("thumbs_down"))
        )
        .when(pl.col("kind") == "rating")
        .then(pl.concat_str([pl.lit("rating_"), pl.col("rating").clip(1, 5).cast(pl.String)]))
        .when(pl.col("kind") == "correction")
        .then(pl.lit("correction"))
        .otherwise(pl.lit("comment"))
    )
    sign = (
        pl.when(pl.col("category") == "thumbs_up")
        .then(1)
        .when(pl.col("category").is_in(["thumbs_down", "correction"]))
        .then(-1)
        .when(pl.col("kind") == "rating")
        .then(
            pl.when(pl.col("rating") >= POSITIVE_RATING)
            .then(1)
            .when(pl.col("rating") <= NEGATIVE_RATING)
            .then(-1)
            .otherwise(0)
        )
        .otherwise(0)
    )
    target = (
        pl.when(pl.col("session_level")).then(pl.col("session_id")).otherwise(pl.col("turn_id"))
    )
    return (
        rows.with_columns(category=category, target=target)
        .with_columns(sign=sign.cast(pl.Int8))
        .select(
            *VERSION,
            "session_id",
            "target",
            "feedback_id",
            "event_time",
            "kind",
            "category",
            "sign",
            "rater_id",
            "session_level",
        )
    )


def coverage(turns: pl.DataFrame) -> pl.DataFrame:
    """turns and coverage (share with any explicit feedback) per agent version."""
    return (
        turns.group_by(VERSION)
        .agg(
            pl.len().alias("turns"),
            (pl.col("feedback").list.len() > 0).mean().alias("coverage"),
        )
        .sort(VERSION)
    )


def agreement(turns: pl.DataFrame) -> pl.DataFrame:
    """Turns with both signs, and the share where explicit and implicit agree, per version.

    Needs the feature columns `turn_positive`, `turn_negative` and `retried`.
    """
    explicit = (
        pl.when(pl.col("turn_positive") & ~pl.col("turn_negative"))
        .then(1)
        .when(pl.col("turn_negative") & ~pl.col("turn_positive"))
        .then(-1)
        .otherwise(0)
    )
    implicit = (
        pl.when(pl.col("retried") | pl.col("session_outcome").is_in(NEGATIVE_OUTCOMES))
        .then(-1)
        .when(pl.col("session_outcome") == "completed")
        .then(1)
        .otherwise(0)
    )
    return (
        turns.with_columns(explicit=explicit, implicit=implicit)
        .filter((pl.col("explicit") != 0) & (pl.col("implicit") != 0))
        .group_by(VERSION)
        .agg(
            pl.len().alias("signed_turns"),
            (pl.col("explicit") == pl.col("implicit")).mean().alias("agreement"),
        )
        .sort(VERSION)
    )


def feedback_distribution(feedback: pl.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per feedback category (comments left out) per agent version."""
    counts = (
        feedback.filter(pl.col("category").is_in(FEEDBACK_CATEGORIES))
        .group_by([*VERSION, "category"])
        .len()
        .sort([*VERSION, "category"])
    )
    out: dict[tuple[str, str], dict[str, int]] = {}
    for agent_id, agent_version, category, count in counts.iter_rows():
        out.setdefault((agent_id, agent_version), {})[category] = count
    return out


def population_stability_index(
    reference: dict[str, int], current: dict[str, int], smoothing: float = 0.5
) -> float:
    """PSI = sum over categories of (cur - ref) * ln(cur / ref), on smoothed shares.

    Below 0.1 is usually read as stable, above 0.2 as a real shift.
    """
    ref_total = sum(reference.values()) + smoothing * len(FEEDBACK_CATEGORIES)
    cur_total = sum(current.values()) + smoothing * len(FEEDBACK_CATEGORIES)
    psi = 0.0
    for category in FEEDBACK_CATEGORIES:
        ref = (reference.get(category, 0) + smoothing) / ref_total
        cur = (current.get(category, 0) + smoothing) / cur_total
        psi += (cur - ref) * math.log(cur / ref)
    return psi


def positive_rates(feedback: pl.DataFrame) -> pl.DataFrame:
    """positive, signed (positive + negative) and positive_rate per agent version."""
    return (
        feedback.filter(pl.col("sign") != 0)
        .group_by(VERSION)
        .agg((pl.col("sign") > 0).sum().alias("positive"), pl.len().alias("signed"))
        .with_columns(positive_rate=pl.col("positive") / pl.col("signed"))
        .sort(VERSION)
    )


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """z-score of rate a minus rate b (pooled standard error); 0 when undefined."""
    if not n_a or not n_b:
        return 0.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return 0.0 if error == 0 else (hits_a / n_a - hits_b / n_b) / error


def rater_activity(feedback: pl.DataFrame) -> pl.DataFrame:
    """Per rater: feedback count, repeated share (same target rated again) and main version."""
    return (
        feedback.drop_nulls("rater_id")
        .group_by("rater_id")
        .agg(
            pl.len().alias("feedback"),
            (1 - pl.col("target").n_unique() / pl.len()).alias("repeated_share"),
            pl.col("agent_id").mode().sort().first().alias("agent_id"),
        )
        .sort("rater_id")
    )
