"""One observation per session and agent version: what compare measures, from the enriched turns.

The session is the unit of every comparison: a session's turns, votes and ratings are not
independent of each other (the same user, the same task), so each metric keeps, per session,
the values it averages, and the statistics cluster on the session.

A session served by more than one agent or version (a router handing the user to a specialist,
a version deployed while the session was open) gives one observation per version, as the
metrics count it (docs/semantics.md, "which agent"): a turn, its latency, cost and the feedback
on it count for the turn's own version; the session's outcome and the feedback on the whole
session for the version of its first turn. Until 8 Dec the first turn's version took every
turn: a candidate deployed mid-session had its turns judged as the baseline's.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import polars as pl

__all__ = [
    "TURN_COLUMNS",
    "SessionObservation",
    "comparable_sessions",
    "observations_from_turns",
]

# The enriched columns compare reads (latest revision of each turn).
TURN_COLUMNS = [
    "event_id",
    "session_id",
    "agent_id",
    "agent_version",
    "event_time",
    "latency_ms",
    "cost_usd",
    "revision",
    "session_outcome",
    "feedback",
]


@dataclass(frozen=True)
class SessionObservation:
    """A session's turns served by one agent version, and the values each metric takes in them.

    `outcome` is None for a version that did not serve the session's first turn: the outcome
    and session-level feedback are the first turn's version's."""

    session_id: str
    agent_id: str
    agent_version: str
    started_ms: int
    outcome: str | None
    turn_latencies_ms: tuple[float, ...]
    turn_corrected: tuple[bool, ...]
    cost_usd: float
    thumbs: tuple[bool, ...]
    ratings: tuple[int, ...]


def observations_from_turns(turns: pl.DataFrame) -> list[SessionObservation]:
    """Observations from enriched turns (one row per turn and revision; the highest revision
    wins): per session, one per agent version that served a turn of it.

    Each feedback event counts once (by its event_id): turn-level feedback for its turn's
    version, session-level feedback (joined to every turn) for the first turn's.
    """
    missing = set(TURN_COLUMNS) - set(turns.columns)
    if missing:
        raise ValueError(f"enriched turns lack the columns {sorted(missing)}")
    event_time = pl.col("event_time")
    if isinstance(turns.schema["event_time"], pl.Datetime):
        event_time = event_time.dt.epoch("ms")
    latest = (
        turns.select(TURN_COLUMNS)
        .with_columns(event_time.cast(pl.Int64).alias("event_time"))
        .sort(["event_id", "revision"], descending=[False, True])
        .unique(subset=["event_id"], keep="first")
        .sort(["session_id", "event_time", "event_id"])
    )
    observations: list[SessionObservation] = []
    for session_id, rows in groupby(latest.iter_rows(named=True), key=itemgetter("session_id")):
        observations += _session(str(session_id), list(rows))
    return observations


def _session(session_id: str, rows: Sequence[dict[str, Any]]) -> list[SessionObservation]:
    """The session's observations, one per agent version, the first turn's first."""
    by_version: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_version.setdefault((str(row["agent_id"]), str(row["agent_version"])), []).append(row)
    # Every revision of a session's turns carries its outcome; the latest turn's is newest.
    outcome = str(rows[-1]["session_outcome"])
    return [
        _observation(session_id, version, served, outcome if index == 0 else None)
        for index, (version, served) in enumerate(by_version.items())
    ]


def _observation(
    session_id: str, version: tuple[str, str], rows: Sequence[dict[str, Any]], outcome: str | None
) -> SessionObservation:
    """One version's turns of a session; `outcome` None unless it served the first turn (then
    the session-level feedback is its too)."""
    seen: set[str] = set()
    thumbs: list[bool] = []
    ratings: list[int] = []
    corrected: list[bool] = []
    for row in rows:
        items = row["feedback"] or []
        corrected.append(any(i["kind"] == "correction" and not i["session_level"] for i in items))
        for item in items:
            if item["event_id"] in seen or (item["session_level"] and outcome is None):
                continue
            seen.add(item["event_id"])
            if item["kind"] == "thumbs" and item["thumbs_up"] is not None:
                thumbs.append(bool(item["thumbs_up"]))
            elif item["kind"] == "rating" and item["rating"] is not None:
                ratings.append(int(item["rating"]))
    return SessionObservation(
        session_id=session_id,
        agent_id=version[0],
        agent_version=version[1],
        started_ms=min(int(row["event_time"]) for row in rows),
        outcome=outcome,
        turn_latencies_ms=tuple(float(row["latency_ms"]) for row in rows),
        turn_corrected=tuple(corrected),
        cost_usd=sum(float(row["cost_usd"]) for row in rows),
        thumbs=tuple(thumbs),
        ratings=tuple(ratings),
    )


def comparable_sessions(
    sessions: Iterable[SessionObservation], agent_id: str, baseline: str, candidate: str
) -> tuple[list[SessionObservation], list[SessionObservation]]:
    """The two versions' sessions over the time span both served traffic.

    A version deployed later meets other users, hours and tasks than one that served alone
    before it: only the sessions started while both were live are compared.
    """
    chosen = [s for s in sessions if s.agent_id == agent_id]
    base = [s for s in chosen if s.agent_version == baseline]
    cand = [s for s in chosen if s.agent_version == candidate]
    if not base or not cand:
        return base, cand
    start = max(min(s.started_ms for s in base), min(s.started_ms for s in cand))
    end = min(max(s.started_ms for s in base), max(s.started_ms for s in cand))
    return (
        [s for s in base if start <= s.started_ms <= end],
        [s for s in cand if start <= s.started_ms <= end],
    )
