"""A terminal signal stamped before the turn it names (docs/semantics.md, "A session, applied in
order").

"Task completed" is often sent by another host than the agent's (the user's browser, a ticket
system, the gateway's clients). When that host's clock runs behind, the signal naming the last
turn carries an event time before that turn's. Taken in plain event-time order it closed the
session before its last turn: that turn began a session of its own under the same id, abandoned
ten minutes later, and the real session lost it. Each case compares the stream with the batch
reference too.
"""

import dataclasses
from typing import Any

import pytest

from tests.unit.stream_processors.conftest import T0, EventFactory
from tests.unit.stream_processors.test_feedback_before_its_turn import (
    _latest,
    _reference_differences,
)
from tests.unit.stream_processors.test_partition import CONFIG, Driver


def _outcomes(drive: Driver, turns: list[dict[str, Any]]) -> list[tuple[str, int]]:
    records = [_latest(drive)[t["record"]["event_id"]] for t in turns]
    return [(r["session_outcome"], r["session_turns"]) for r in records]


def test_a_completion_stamped_before_the_last_turn_closes_the_session_after_it(
    events: EventFactory,
) -> None:
    turns = [events.interaction(at, index) for index, at in enumerate([0, 10, 20])]
    completed = events.signal(18.5, "task_completed", turns[2]["record"]["event_id"])
    entries = [*turns, completed]
    drive = Driver()
    drive.ingest(*entries)
    drive.until(30)
    assert _outcomes(drive, turns) == [("completed", 3)] * 3
    assert {r["session_closed_at"] for r in _latest(drive).values()} == {T0 + 20_000}
    assert drive.outputs.inferred_signals == [] and drive.outputs.too_late == []
    assert _reference_differences(drive, entries) == []


def test_events_after_a_held_signal_wait_for_it(events: EventFactory) -> None:
    """The signal reaches the worker first; the watermark passes it and a thumbs on the second
    turn (stamped between the signal and the last turn) before the last turn arrives. Nothing
    after the signal is applied until the last turn comes: the thumbs joins the open session
    and the session closes once, after its last turn."""
    turns = [events.interaction(0), events.interaction(10, 1), events.interaction(20, 2)]
    completed = events.signal(17, "task_completed", turns[2]["record"]["event_id"])
    thumbs = events.feedback(18, interaction_id=turns[1]["record"]["event_id"], thumbs_up=True)
    drive = Driver()
    drive.ingest(turns[0], turns[1], completed, thumbs)
    drive.until(19)
    session = drive.processor.sessions["s-1"]
    assert (session.closed_at, [e["record"]["event_id"] for e in session.held]) == (
        None,
        [completed["record"]["event_id"], thumbs["record"]["event_id"]],
    )
    assert drive.processor.frozen_before == T0 + 17_000  # its windows stay open meanwhile
    drive.ingest(turns[2])
    drive.until(25)
    assert _outcomes(drive, turns) == [("completed", 3)] * 3
    latest = _latest(drive)
    assert [f["event_id"] for f in latest[turns[1]["record"]["event_id"]]["feedback"]] == [
        thumbs["record"]["event_id"]
    ]
    assert drive.outputs.too_late == []
    assert _reference_differences(drive, [*turns, completed, thumbs]) == []


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_a_held_signal_survives_a_restart(events: EventFactory, restart: bool) -> None:
    turns = [events.interaction(0), events.interaction(10, 1)]
    completed = events.signal(8, "task_completed", turns[1]["record"]["event_id"])
    drive = Driver()
    drive.ingest(turns[0], completed)
    drive.until(9)
    if restart:
        drive.restart()
    session = drive.processor.sessions["s-1"]
    assert (session.held, session.staged, session.behind) == ([completed], [], None)
    drive.ingest(turns[1])
    drive.until(12)
    assert _outcomes(drive, turns) == [("completed", 2)] * 2
    assert _reference_differences(drive, [*turns, completed]) == []


def test_a_signal_whose_turn_never_comes_closes_when_the_lead_has_passed(
    events: EventFactory,
) -> None:
    """Held no longer than `lead_ms`: then applied at its own time, as any terminal signal; the
    turn that comes after (too late for the hold) begins a new session under the id."""
    config = dataclasses.replace(CONFIG, lead_ms=5_000)
    turn = events.interaction(0)
    completed = events.signal(10, "task_completed", "turn-that-never-came")
    drive = Driver(config)
    drive.ingest(turn, completed)
    drive.until(14)
    assert drive.processor.sessions["s-1"].closed_at is None
    drive.until(15)
    [record] = _latest(drive).values()
    assert (record["session_outcome"], record["session_closed_at"]) == ("completed", T0 + 10_000)


def test_a_signal_further_ahead_of_its_turn_than_the_lead_closes_before_it(
    events: EventFactory,
) -> None:
    config = dataclasses.replace(CONFIG, lead_ms=5_000)
    turns = [events.interaction(0), events.interaction(20, 1)]
    completed = events.signal(14, "task_completed", turns[1]["record"]["event_id"])
    drive = Driver(config)
    drive.ingest(*turns, completed)
    drive.until(20)
    latest = _latest(drive)
    assert latest[turns[0]["record"]["event_id"]]["session_outcome"] == "completed"
    assert latest[turns[0]["record"]["event_id"]]["session_turns"] == 1
    assert turns[1]["record"]["event_id"] not in latest  # a new session, still open
