"""Feedback stamped before the turn it names (docs/semantics.md, "A session, applied in order").

A thumbs or a correction is often sent by another host than the agent's (a browser, a review
tool, the gateway's clients), whose clock may run a little behind: the feedback then carries an
event time before its turn's. Taken in plain event-time order it named no turn yet, so it was
joined as session-level (a thumbs-down on the third turn marked all three) or, before the first
turn, refused as `too_late`. Each case compares the stream with the batch reference too.
"""

import dataclasses
from typing import Any

import pytest

from tests.unit.stream_processors.conftest import T0, EventFactory, reference_config
from tests.unit.stream_processors.test_partition import CONFIG, Driver
from verification.comparison import compare_enriched, compare_metrics
from verification.reference import expected_results

REFERENCE = reference_config(CONFIG)


def _latest(drive: Driver) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in drive.outputs.enriched:
        latest[record["event_id"]] = record
    return latest


def _reference_differences(drive: Driver, entries: list[dict[str, Any]]) -> list[str]:
    events = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    expected = expected_results(events, REFERENCE)
    finals = {
        key: partial.to_record(*key, key[2] + CONFIG.window_ms, is_final=True, update_seq=0)
        for key, partial in drive.processor.windows.items()
    }
    differences = compare_enriched(expected.turns, _latest(drive))
    differences += compare_metrics(expected.metrics, finals)
    return [d.line() for d in differences]


def _feedback_ids(record: dict[str, Any]) -> list[str]:
    return [f["event_id"] for f in record["feedback"]]


def test_a_thumbs_down_stamped_before_its_turn_concerns_that_turn_only(
    events: EventFactory,
) -> None:
    turns = [events.interaction(at, index) for index, at in enumerate([0, 10, 20])]
    last = turns[2]["record"]["event_id"]
    thumbs_down = events.feedback(18.5, interaction_id=last, thumbs_up=False)  # 1.5 s behind
    entries = [*turns, thumbs_down, events.signal(25, "task_completed")]
    drive = Driver()
    drive.ingest(*entries)
    drive.until(30)
    latest = _latest(drive)
    assert [_feedback_ids(latest[t["record"]["event_id"]]) for t in turns] == [
        [],
        [],
        [thumbs_down["record"]["event_id"]],
    ]
    assert latest[last]["feedback"][0]["session_level"] is False
    assert [latest[t["record"]["event_id"]]["reward"] < 0 for t in turns] == [False, False, True]
    assert drive.outputs.too_late == []
    assert _reference_differences(drive, entries) == []


def test_feedback_on_the_first_turn_stamped_before_it_is_joined(events: EventFactory) -> None:
    turn = events.interaction(10)
    thumbs_up = events.feedback(9.2, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    entries = [thumbs_up, turn, events.signal(12, "task_completed")]
    drive = Driver()
    drive.ingest(*entries)
    drive.until(15)
    [record] = _latest(drive).values()
    assert _feedback_ids(record) == [thumbs_up["record"]["event_id"]]
    assert drive.outputs.too_late == []
    assert _reference_differences(drive, entries) == []


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_the_turn_may_reach_kafka_after_its_feedback_and_the_watermark(
    events: EventFactory, restart: bool
) -> None:
    """The feedback is applied when the watermark passes it, but holds until its turn comes
    (the watermark passed the feedback, not the turn). Persisted as held, not as a staged
    event: restored, the session is not taken for late (its feedback is behind the restored
    watermark) and the feedback still joins its turn."""
    first = events.interaction(0)
    turn = events.interaction(10, 1)
    feedback = events.feedback(8, interaction_id=turn["record"]["event_id"], thumbs_up=False)
    drive = Driver()
    drive.ingest(first, feedback)
    drive.until(9)
    if restart:
        drive.restart()
    session = drive.processor.sessions["s-1"]
    assert (session.held, session.staged, session.behind) == ([feedback], [], None)
    drive.ingest(turn, events.signal(11, "task_completed"))
    drive.until(12)
    latest = _latest(drive)
    assert _feedback_ids(latest[first["record"]["event_id"]]) == []
    assert _feedback_ids(latest[turn["record"]["event_id"]]) == [feedback["record"]["event_id"]]


def test_feedback_further_ahead_of_its_turn_than_the_lead_is_refused(
    events: EventFactory,
) -> None:
    """Beyond `lead_ms` it is not waited for: applied in plain order, it names a turn the
    session does not have yet, and is dead-lettered `unknown_interaction` (it used to concern
    every turn), as the reference says."""
    config = dataclasses.replace(CONFIG, lead_ms=5_000)
    turns = [events.interaction(0), events.interaction(20, 1)]
    feedback = events.feedback(14, interaction_id=turns[1]["record"]["event_id"], thumbs_up=True)
    entries = [*turns, feedback, events.signal(25, "task_completed")]
    drive = Driver(config)
    drive.ingest(*entries)
    drive.until(30)
    latest = _latest(drive)
    assert [_feedback_ids(latest[t["record"]["event_id"]]) for t in turns] == [[], []]
    refused = [entry["record"]["event_id"] for entry, _ in drive.outputs.unknown_interaction]
    assert refused == [feedback["record"]["event_id"]]
    assert drive.outputs.too_late == []
    read = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    reference = expected_results(read, dataclasses.replace(REFERENCE, feedback_lead_ms=5_000))
    assert reference.dead_letter_reasons() == {refused[0]: "unknown_interaction"}
    assert compare_enriched(reference.turns, latest) == []


@pytest.mark.parametrize("lead_s", [0, 5], ids=["no lead", "lead 5 s"])
def test_feedback_before_every_turn_does_not_join_a_turn_further_ahead_than_the_lead(
    events: EventFactory, lead_s: int
) -> None:
    """No turn before it: it waits, in case a turn stamped before it reaches Kafka late. The
    turn it names comes instead, further ahead than `lead_ms`: that is not a turn before it,
    so it is refused `too_late` as the reference says (until 7 Dec it joined that turn once
    the turn came; with `feedback_grace_s` 0, hence no lead, 19% of random cases differed)."""
    config = dataclasses.replace(CONFIG, lead_ms=lead_s * 1000)
    opened = events.signal(0, "retried")  # activity: the session is open, with no turn
    turn = events.interaction(20)
    feedback = events.feedback(10, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    entries = [opened, turn, feedback, events.signal(25, "task_completed")]
    drive = Driver(config)
    drive.ingest(*entries)
    drive.until(2000)
    assert _feedback_ids(_latest(drive)[turn["record"]["event_id"]]) == []
    refused = [entry["record"]["event_id"] for entry, _ in drive.outputs.too_late]
    assert refused == [feedback["record"]["event_id"]]
    read = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    reference = expected_results(
        read, dataclasses.replace(REFERENCE, feedback_lead_ms=lead_s * 1000)
    )
    assert reference.dead_letter_reasons() == {refused[0]: "too_late"}
    assert compare_enriched(reference.turns, _latest(drive)) == []


def test_held_feedback_is_counted_in_its_own_window(events: EventFactory) -> None:
    """A thumbs stamped at 59.5 s for a turn at 61 s: the watermark passes the end of the
    window [0, 60 s) while the thumbs waits, yet that window counts it, as the reference does."""
    first = events.interaction(30)
    turn = events.interaction(61, 1)
    thumbs = events.feedback(59.5, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    entries = [first, thumbs, turn, events.signal(62, "task_completed")]
    drive = Driver()
    drive.ingest(first, thumbs)
    drive.until(60.5)
    assert drive.processor.frozen_before == T0 + 59_500  # the window of the thumbs stays open
    drive.ingest(*entries[2:])
    drive.until(63)
    assert drive.processor.windows[("bot", "1.0", T0)].counts["thumbs_up"] == 1
    assert _reference_differences(drive, entries) == []


def test_feedback_naming_no_turn_is_refused_by_the_use_it_came_in(events: EventFactory) -> None:
    """Held for the turn it names while the session was abandoned and its id used again: it
    was decided by the new use, which had no turn before it, and dead-lettered `too_late` 600 s
    later; the reference refuses it as `unknown_interaction` of the use it came in (found by
    a random backfill into a busy partition)."""
    turns = [events.interaction(0), events.interaction(10, 1)]
    unknown = events.feedback(40, interaction_id="client-message-7", thumbs_up=False)
    resumed = events.interaction(80, 2)  # after the abandonment at 70 s: a new use of the id
    entries = [*turns, unknown, resumed, events.signal(85, "task_completed")]
    drive = Driver()
    drive.ingest(*entries)
    drive.until(50)  # the thumbs waits for its turn (up to `lead_ms`, 60 s)
    drive.until(90)  # abandoned at 70 s, begun again at 80 s
    assert drive.processor.sessions["s-1"].held == [unknown]
    drive.until(CONFIG.lead_ms / 1000 + 100)
    refused = [entry["record"]["event_id"] for entry, _ in drive.outputs.unknown_interaction]
    assert refused == [unknown["record"]["event_id"]]
    assert drive.outputs.too_late == []
    read = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    reference = expected_results(read, REFERENCE)
    assert reference.dead_letter_reasons() == {refused[0]: "unknown_interaction"}
    assert _reference_differences(drive, entries) == []


@pytest.mark.parametrize("steps", [[100], [26, 100]])
def test_a_signal_stamped_before_a_resumed_turn_but_after_the_abandonment_is_refused(
    events: EventFactory, steps: list[float]
) -> None:
    """The user paused longer than `abandon_after` and came back; "task failed", naming the
    resumed turn, is stamped 4.5 s before it but after the abandonment: the session was not
    open at its time, so it is not taken after the turn (docs/semantics.md) and is refused,
    as the reference does. Read in one step, it used to close the resumed use as failed;
    read in two, it was refused: the result depended on how the events were batched."""
    config = dataclasses.replace(CONFIG, abandon_after_ms=20_000)
    first = events.interaction(0)
    resumed = events.interaction(29, 1)
    failed = events.signal(24.5, "task_failed", resumed["record"]["event_id"])
    entries = [first, failed, resumed, events.feedback(29, thumbs_up=True)]
    drive = Driver(config)
    drive.ingest(*entries[:2])
    for index, at in enumerate(steps):
        if index == len(steps) - 1:
            drive.ingest(*entries[2:])
        drive.until(at)
    latest = _latest(drive)
    assert [(r["session_outcome"], r["session_closed_at"] - T0) for r in latest.values()] == [
        ("abandoned", 20_000),
        ("abandoned", 49_000),
    ]
    assert [entry["record"]["event_id"] for entry, _ in drive.outputs.too_late] == [
        failed["record"]["event_id"]
    ]
    read = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    reference = expected_results(read, dataclasses.replace(REFERENCE, abandon_after_ms=20_000))
    assert compare_enriched(reference.turns, latest) == []


def _compare_with_reference(drive: Driver, entries: list[dict[str, Any]], config: Any) -> list[str]:
    read = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    reference = expected_results(
        read, dataclasses.replace(REFERENCE, abandon_after_ms=config.abandon_after_ms)
    )
    refused = {e["record"]["event_id"]: "too_late" for e, _ in drive.outputs.too_late}
    refused |= {
        e["record"]["event_id"]: "unknown_interaction" for e, _ in drive.outputs.unknown_interaction
    }
    differences = [d.line() for d in compare_enriched(reference.turns, _latest(drive))]
    if refused != reference.dead_letter_reasons():
        differences.append(f"refused {refused} != {reference.dead_letter_reasons()}")
    return differences


def test_feedback_held_for_a_resumed_turn_joins_it_after_the_abandonment(
    events: EventFactory,
) -> None:
    """Met while the session was open, a thumbs waits for the turn it names; the session is
    abandoned meanwhile, and that turn resumes the conversation. It joins the resumed turn, as
    the reference says (it was refused `unknown_interaction` when the session looked at it
    again after the abandonment, before the turn was read)."""
    config = dataclasses.replace(CONFIG, abandon_after_ms=20_000)
    first = events.interaction(0)
    resumed = events.interaction(22.5, 1)
    thumbs = events.feedback(19.8, interaction_id=resumed["record"]["event_id"], thumbs_up=False)
    # Stamped after the abandonment: refused, but it makes the session look at the thumbs again.
    done = events.signal(20.4, "task_completed", resumed["record"]["event_id"])
    drive = Driver(config)
    drive.ingest(first, thumbs)
    drive.until(20.3)  # abandoned at 20 s; the thumbs waits
    drive.ingest(done)
    drive.until(21)
    drive.ingest(resumed)
    drive.until(100)
    latest = _latest(drive)
    assert _feedback_ids(latest[resumed["record"]["event_id"]]) == [thumbs["record"]["event_id"]]
    assert _compare_with_reference(drive, [first, thumbs, done, resumed], config) == []


def test_what_a_held_signal_held_after_it_is_met_again_in_order(events: EventFactory) -> None:
    """ "Task completed" names a turn not read yet: it and everything after it wait. A thumbs
    after it, naming another turn of that moment, comes after the session's abandonment: it is
    taken at its own time (refused, naming no turn of the abandoned use), not moved after its
    turn as feedback met while the session was open would be."""
    config = dataclasses.replace(CONFIG, abandon_after_ms=20_000)
    first = events.interaction(0)
    last, other = events.interaction(20.665, 1), events.interaction(20.665, 2)
    done = events.signal(19.972, "task_completed", last["record"]["event_id"])
    thumbs = events.feedback(20.663, interaction_id=other["record"]["event_id"], thumbs_up=True)
    drive = Driver(config)
    drive.ingest(first, done, thumbs)
    drive.until(20.664)  # the signal waits for its turn; the thumbs with it
    drive.ingest(last, other)
    drive.until(200)
    assert _feedback_ids(_latest(drive)[other["record"]["event_id"]]) == []
    entries = [first, done, thumbs, last, other]
    assert _compare_with_reference(drive, entries, config) == []
