"""compare on sessions served by more than one agent or version: one observation per version.

A router hands the user to the support bot, then version 1.5.0 is deployed while the session
is open. A turn, its latency, cost and the feedback on it count for the turn's own version; the
outcome and the feedback on the whole session for the first turn's (as the live metrics count
them, docs/semantics.md). Until 8 Dec the first turn's version took the whole session: here the
router would have been judged on the bot's turns, and 1.5.0's thumbs-down counted for 1.4.0.
"""

from pathlib import Path
from typing import Any

import polars as pl
from deltalake import write_deltalake

from curation.impact import observations_from_turns
from curation.impact.lake import read_sessions
from curation.impact.metrics import metric_named
from schemas.lake import ENRICHED_INTERACTIONS

ROUTER, OLD, NEW = ("router", "1.0"), ("support-bot", "1.4.0"), ("support-bot", "1.5.0")


def _feedback(event_id: str, kind: str, session_level: bool, **values: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": kind,
        "thumbs_up": values.get("thumbs_up"),
        "rating": values.get("rating"),
        "session_level": session_level,
    }


def _turn(
    event_id: str, at_ms: int, agent: tuple[str, str], feedback: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "session_id": "s-1",
        "agent_id": agent[0],
        "agent_version": agent[1],
        "event_time": at_ms,
        "latency_ms": 100 * (at_ms + 1),
        "cost_usd": 0.01,
        "revision": 0,
        "session_outcome": "completed",
        "feedback": feedback,
    }


def _turns() -> list[dict[str, Any]]:
    rating = _feedback("f-rating", "rating", True, rating=4)  # on the session: every turn shows it
    return [
        _turn("t-0", 0, ROUTER, [rating]),
        _turn("t-1", 1, OLD, [rating, _feedback("f-fix", "correction", False)]),
        _turn("t-2", 2, NEW, [rating, _feedback("f-down", "thumbs", False, thumbs_up=False)]),
    ]


def test_each_version_gets_its_turns_and_the_first_turns_gets_the_session() -> None:
    found = {
        (s.agent_id, s.agent_version): s for s in observations_from_turns(pl.DataFrame(_turns()))
    }
    assert list(found) == [ROUTER, OLD, NEW]
    router, old, new = found.values()
    assert (router.outcome, router.ratings, router.thumbs, router.turn_latencies_ms) == (
        "completed",
        (4,),
        (),
        (100.0,),
    )
    assert (old.outcome, old.ratings, old.turn_corrected, old.started_ms) == (None, (), (True,), 1)
    assert (new.outcome, new.thumbs, new.turn_corrected, new.cost_usd) == (
        None,
        (False,),
        (False,),
        0.01,
    )
    completion = metric_named("completion_rate")
    assert [completion.units(s) for s in (router, old, new)] == [(1.0,), (), ()]


def test_the_lake_path_reads_the_other_agents_turns_to_know_who_served_first(
    tmp_path: Path,
) -> None:
    """`read_sessions` for the support bot alone: its versions' observations, and no outcome,
    since the router served the first turn."""
    write_deltalake(ENRICHED_INTERACTIONS.path(str(tmp_path)), pl.DataFrame(_turns()).to_arrow())
    sessions, version = read_sessions(str(tmp_path), "support-bot", ("1.4.0", "1.5.0"))
    assert version == 0
    assert [(s.agent_version, s.outcome) for s in sessions] == [("1.4.0", None), ("1.5.0", None)]
    assert [s.thumbs for s in sessions] == [(), (False,)]
