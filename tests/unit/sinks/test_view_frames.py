"""The `turns` and `feedback` views: latest revisions, each feedback event once."""

from typing import Any

import polars as pl
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.lake import ENRICHED_INTERACTIONS
from sinks.view_frames import FEEDBACK_COLUMNS, feedback_frame, turns_frame
from tests.unit.curation.enriched_factory import BASE_MS, feedback, make_turn


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    table = pa.Table.from_pylist(rows, schema=ENRICHED_INTERACTIONS.arrow_schema())
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result


def session_rows() -> list[dict[str, Any]]:
    """Session s1 (two turns, agent 1.0.0) with a session-level thumbs-up on both turns, a
    turn-level rating on turn 1 that came late (revision 1), and a duplicate of a record."""
    up = feedback("thumbs", thumbs_up=True, session_level=True, seed="up")
    rating = feedback("rating", rating=2, seed="rating", event_time=BASE_MS + 900_000)
    t0 = make_turn("s1", 0, feedback=[up])
    t1 = make_turn("s1", 1, feedback=[up], kafka_offset=1)
    t1_late = make_turn("s1", 1, feedback=[up, rating], revision=1, kafka_offset=2)
    other = make_turn("s2", 0, agent_version="2.0.0", kafka_offset=3)
    return [t0, t1, t1_late, dict(t1_late), other]


def test_turns_hold_each_turn_once_at_its_latest_revision() -> None:
    turns = turns_frame(frame(session_rows())).sort("session_id", "turn_index")
    assert turns.height == 3
    assert "feedback" not in turns.columns
    assert turns["revision"].to_list() == [0, 1, 0]
    assert turns["feedback_events"].to_list() == [1, 2, 0]
    assert turns["opens_session"].to_list() == [True, False, True]
    assert turns["session_agent_version"].to_list() == ["1.0.0", "1.0.0", "2.0.0"]
    first = turns["first_feedback_at"].to_list()
    assert first[0] is not None and first[0] == first[1] and first[2] is None


def test_feedback_holds_each_event_once_with_its_level() -> None:
    rows = feedback_frame(frame(session_rows()))
    assert rows.columns == FEEDBACK_COLUMNS
    assert rows.height == 2  # the session-level thumbs-up shows on two turns: one row
    by_kind = {row["kind"]: row for row in rows.iter_rows(named=True)}
    assert by_kind["thumbs"]["level"] == "session"
    assert by_kind["thumbs"]["interaction_id"] is None
    assert by_kind["rating"]["level"] == "turn"
    assert by_kind["rating"]["interaction_id"] == make_turn("s1", 1)["event_id"]
    assert {row["agent_version"] for row in rows.iter_rows(named=True)} == {"1.0.0"}


def test_session_feedback_counts_for_the_first_turns_agent_turn_feedback_for_its_turns() -> None:
    """A session handed to another agent (or deployed anew) mid-way: session-level feedback
    for its first turn's agent, feedback on a turn for that turn's, as the metrics count."""
    down = feedback("thumbs", thumbs_up=False, session_level=True, seed="down")
    rating = feedback("rating", rating=5, seed="on-turn-1")
    rows = [
        make_turn("s1", 0, agent_version="1.0.0", feedback=[down]),
        make_turn("s1", 1, agent_id="billing", agent_version="3.0.0", feedback=[down, rating]),
    ]
    turns = turns_frame(frame(rows))
    assert set(turns["session_agent_version"].to_list()) == {"1.0.0"}
    assert turns["agent_version"].sort().to_list() == ["1.0.0", "3.0.0"]
    got = feedback_frame(frame(rows)).select("kind", "level", "agent_id", "agent_version")
    assert sorted(got.iter_rows()) == [
        ("rating", "turn", "billing", "3.0.0"),
        ("thumbs", "session", make_turn("s1", 0)["agent_id"], "1.0.0"),
    ]


def test_a_session_id_used_again_is_two_sessions() -> None:
    rows = [
        make_turn("s1", 0, agent_version="1.0.0"),
        make_turn(
            "s1",
            0,
            event_id="second-use",
            agent_version="2.0.0",
            event_time=BASE_MS + 3_600_000,
            session_closed_at=BASE_MS + 4_000_000,
        ),
    ]
    turns = turns_frame(frame(rows))
    assert turns["opens_session"].to_list() == [True, True]
    assert turns["session_agent_version"].to_list() == ["1.0.0", "2.0.0"]


def test_no_feedback_at_all_gives_an_empty_view_with_its_columns() -> None:
    rows = feedback_frame(frame([make_turn("s1", 0)]))
    assert rows.is_empty() and rows.columns == FEEDBACK_COLUMNS
    full = feedback_frame(frame(session_rows()))
    assert rows.schema == full.schema  # same types as a view with rows: the Delta schema holds


@settings(max_examples=40, deadline=None)
@given(
    turns=st.integers(1, 5),
    session_votes=st.lists(st.booleans(), max_size=4),
    turn_votes=st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=6),
    revisions=st.integers(1, 3),
)
def test_thumbs_counted_on_the_view_are_the_events_sent(
    turns: int,
    session_votes: list[bool],
    turn_votes: list[tuple[int, bool]],
    revisions: int,
) -> None:
    """However many turns, revisions and session-level copies: one vote, one row."""
    shared = [
        feedback("thumbs", thumbs_up=v, session_level=True, seed=f"s{i}")
        for i, v in enumerate(session_votes)
    ]
    mine = [
        (i % turns, feedback("thumbs", thumbs_up=v, seed=f"t{n}"))
        for n, (i, v) in enumerate(turn_votes)
    ]
    rows = [
        make_turn(
            "s1",
            index,
            revision=revision,
            kafka_offset=index * 10 + revision,
            feedback=shared + [f for target, f in mine if target == index],
        )
        for index in range(turns)
        for revision in range(revisions)
    ]
    view = feedback_frame(frame(rows))
    votes = session_votes + [v for _, v in turn_votes]
    assert view.height == len(votes)
    assert view["thumbs_up"].sum() == sum(votes)
    assert (view["level"] == "session").sum() == len(session_votes)
