"""The evidence the label model reads, as integer codes: per-turn categorical features and the
explicit votes (thumbs, ratings) with their raters.

Everything is one polars pass over the turns of a table version (no per-row Python), so the
model stays cheap on millions of rows. Codes, not floats: the model learns what each value means
for a good or a bad turn, so nothing here says which way a signal points.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "FEATURES",
    "OUTCOME_BLOCK",
    "SESSION_FEATURES",
    "VOTE_CATEGORIES",
    "Evidence",
    "extract_evidence",
]

# Per-turn features and their number of categories. Position is a stratum, not evidence: each
# feature's table is learned separately for a session's last turn and the others (a last turn is
# followed by the outcome, the others by the user's next move), so that position alone cannot
# become the "class" EM finds. A code of -1 means "does not apply" (no evidence).
# - `after`: not last: 0 the user moved on to a new question, 1 retried; last: the session
#   outcome (0 completed, 1 failed, 2 abandoned, 3 escalated, 4 other), 5 retried.
# - `outcome`: the session outcome, for turns that are not the last (shared by the session).
# - `tools`: 0 no tool call, 1 all succeeded, 2 one failed or timed out.
# - `corrected`: 1 when a correction of this turn arrived.
_OUTCOMES = ("completed", "failed", "abandoned", "escalated")
OUTCOME_BLOCK = len(_OUTCOMES) + 1
FEATURES: dict[str, int] = {"after": 6, "outcome": OUTCOME_BLOCK, "tools": 3, "corrected": 2}
STRATA = 2  # 0: not the session's last turn, 1: the last
# Votes: a rating 1-5 is its category 0-4; a thumbs down is 0, a thumbs up 4.
VOTE_CATEGORIES = 5
# Features that every turn of a session shares: the session, not the turn, produced them.
SESSION_FEATURES = ("outcome",)


@dataclass(frozen=True)
class Evidence:
    """Codes of `n` turns: `features[name]` (int8 per turn), the agent each turn belongs to,
    and the votes as parallel arrays (turn row, worker, group, category, session-level)."""

    n: int
    features: dict[str, np.ndarray]
    stratum: np.ndarray
    agent: np.ndarray
    agents: list[str]
    vote_turn: np.ndarray
    vote_worker: np.ndarray
    vote_group: np.ndarray
    vote_category: np.ndarray
    vote_session_level: np.ndarray
    workers: list[str]
    groups: list[str]
    worker_group: np.ndarray


def _codes(column: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Dense integer codes of a string column, in sorted order of the values (deterministic)."""
    values = column.fill_null("").unique().sort()
    lookup = pl.DataFrame({"_v": values, "_code": pl.int_range(values.len(), eager=True)})
    codes = (
        pl.DataFrame({"_v": column.fill_null("")})
        .join(lookup, on="_v", how="left", maintain_order="left")
        .get_column("_code")
    )
    return codes.to_numpy().astype(np.int64), values.to_list()


def extract_evidence(turns: pl.DataFrame) -> Evidence:
    """Codes of every turn's evidence; `turns` carries the curation features (`retried`,
    `tool_failed`) and the enriched columns."""
    outcome_code = pl.lit(len(_OUTCOMES), dtype=pl.Int8)
    for code, name in reversed(list(enumerate(_OUTCOMES))):
        outcome_code = (
            pl.when(pl.col("session_outcome") == name)
            .then(pl.lit(code, dtype=pl.Int8))
            .otherwise(outcome_code)
        )
    last = pl.col("turn_index") >= pl.col("session_turns") - 1
    has_tools = pl.col("tools_used").list.len().fill_null(0) > 0
    codes = turns.select(
        stratum=last.cast(pl.Int8),
        after=pl.when(pl.col("retried"))
        .then(pl.when(last).then(5).otherwise(1))
        .when(last)
        .then(outcome_code)
        .otherwise(0)
        .cast(pl.Int8),
        outcome=pl.when(last).then(-1).otherwise(outcome_code).cast(pl.Int8),
        tools=pl.when(pl.col("tool_failed"))
        .then(2)
        .when(has_tools)
        .then(1)
        .otherwise(0)
        .cast(pl.Int8),
        corrected=(
            pl.col("corrected_response").is_not_null()
            | pl.col("feedback")
            .list.eval(
                (pl.element().struct.field("kind") == "correction")
                & ~pl.element().struct.field("session_level")
            )
            .list.any()
            .fill_null(False)
        ).cast(pl.Int8),
        agent=pl.concat_str(["agent_id", "agent_version"], separator="/", ignore_nulls=True),
    )
    agent, agents = _codes(codes.get_column("agent"))
    features = {name: codes.get_column(name).to_numpy().astype(np.int64) for name in FEATURES}
    votes = _votes(turns)
    worker, workers = _codes(votes.get_column("worker"))
    group, groups = _codes(votes.get_column("group"))
    worker_group = np.zeros(len(workers), dtype=np.int64)
    worker_group[worker] = group
    return Evidence(
        n=turns.height,
        features=features,
        stratum=codes.get_column("stratum").to_numpy().astype(np.int64),
        agent=agent,
        agents=agents,
        vote_turn=votes.get_column("_row").to_numpy().astype(np.int64),
        vote_worker=worker,
        vote_group=group,
        vote_category=votes.get_column("category").to_numpy().astype(np.int64),
        vote_session_level=votes.get_column("session_level").to_numpy().astype(bool),
        workers=workers,
        groups=groups,
        worker_group=worker_group,
    )


def _votes(turns: pl.DataFrame) -> pl.DataFrame:
    """One row per (turn, thumbs or rating): its category, rater (worker) and rater group.

    A rater is (source, rater_id, kind) on the turn; raters without an id share one worker
    per source. Session-level votes count for every turn of the session and are pooled per
    kind (nobody rated this turn in particular).
    """
    items = (
        turns.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"), "feedback")
        .filter(pl.col("feedback").list.len() > 0)
        .explode("feedback")
        .unnest("feedback")
        .filter(pl.col("kind").is_in(["thumbs", "rating"]))
    )
    category = (
        pl.when(pl.col("kind") == "thumbs")
        .then(pl.when(pl.col("thumbs_up")).then(4).otherwise(0))
        .otherwise(pl.col("rating").clip(1, 5) - 1)
    )
    usable = (pl.col("kind") == "thumbs") & pl.col("thumbs_up").is_not_null() | (
        (pl.col("kind") == "rating") & pl.col("rating").is_not_null()
    )
    group = (
        pl.when(pl.col("session_level"))
        .then(pl.concat_str([pl.lit("session"), pl.col("kind")], separator="|"))
        .otherwise(
            pl.concat_str([pl.col("source").fill_null("unknown"), pl.col("kind")], separator="|")
        )
    )
    worker = (
        pl.when(pl.col("session_level"))
        .then(group)
        .otherwise(
            pl.concat_str(
                [
                    pl.col("source").fill_null("unknown"),
                    pl.col("rater_id").fill_null("?"),
                    pl.col("kind"),
                ],
                separator="|",
            )
        )
    )
    return items.filter(usable).select(
        "_row",
        category.cast(pl.Int8).alias("category"),
        worker.alias("worker"),
        group.alias("group"),
        pl.col("session_level").fill_null(False),
    )
