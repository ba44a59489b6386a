"""The reference's sessions: order with ties, abandonment, grace, reuse, dedupe, turn-level."""

from verification.events import inferred_abandoned_id
from verification.reference import ReferenceConfig, expected_results

from .factory import T0, Events

CONFIG = ReferenceConfig()  # abandon 600 s, grace 6 h, windows of 60 s, k = 512, skew 300 s
ABANDON, GRACE = CONFIG.abandon_after_ms, CONFIG.grace_ms


def test_turn_feedback_and_completion_in_one_millisecond_all_join() -> None:
    ev = Events()
    turn = ev.turn("s", 5_000)
    thumbs = ev.feedback("s", 5_000, interaction_id=turn["event_id"])
    done = ev.signal("s", 5_000, "task_completed")
    # Arrival order must not matter: the terminal signal is listed first.
    ev.events.reverse()
    results = expected_results(ev.events, CONFIG)

    record = results.turns[turn["event_id"]].record
    assert record["session_outcome"] == "completed"
    assert record["session_closed_at"] == T0 + 5_000
    assert [f["event_id"] for f in record["feedback"]] == [thumbs["event_id"]]
    assert record["feedback"][0]["session_level"] is False
    assert [s["event_id"] for s in record["signals"]] == [done["event_id"]]
    assert (record["reward"], record["reward_source"], record["reward_confidence"]) == (
        0.9,
        "explicit",
        0.75,
    )
    assert results.dead_letters == []
    metric = results.metrics[("bot", "1.0", T0)].record
    assert metric["interactions"] == metric["sessions_completed"] == metric["thumbs_up"] == 1
    assert metric["feedback_coverage"] == 1.0


def test_a_turn_at_the_terminal_signals_time_is_part_of_the_session() -> None:
    ev = Events()
    first = ev.turn("s", 0)
    ev.signal("s", 10_000, "task_failed")
    tied = ev.turn("s", 10_000, turn_index=1)
    after = ev.turn("s", 10_001, turn_index=2)  # after the close: the id used again
    second_close = ev.signal("s", 10_002, "task_completed")
    third_close = ev.signal("s", 10_002, "task_failed")  # the id's second use is closed
    results = expected_results(ev.events, CONFIG)

    assert set(results.turns) == {first["event_id"], tied["event_id"], after["event_id"]}
    assert results.turns[tied["event_id"]].record["session_turns"] == 2
    assert results.turns[tied["event_id"]].record["session_outcome"] == "failed"
    assert results.turns[after["event_id"]].record["session_turns"] == 1
    late_close = max(second_close, third_close, key=lambda s: s["event_id"])
    assert results.dead_letter_reasons() == {late_close["event_id"]: "too_late"}


def test_an_event_at_exactly_last_activity_plus_abandon_after_comes_after_the_close() -> None:
    ev = Events()
    first = ev.turn("s", 0)
    on_time = ev.turn("s", ABANDON - 1)
    boundary = ev.turn("s", 2 * ABANDON - 1)  # exactly last activity + abandon_after
    results = expected_results(ev.events, CONFIG)

    record = results.turns[first["event_id"]].record
    assert record["session_outcome"] == "abandoned"
    assert record["session_closed_at"] == T0 + 2 * ABANDON - 1
    assert record["session_turns"] == 2 and on_time["event_id"] in results.turns
    # The boundary turn is the session id's second use.
    assert results.turns[boundary["event_id"]].record["session_turns"] == 1
    assert results.dead_letter_reasons() == {}
    assert results.inferred_signals[:1] == [
        {
            "event_id": inferred_abandoned_id("s", T0 + 2 * ABANDON - 1),
            "session_id": "s",
            "interaction_id": None,
            "event_time": T0 + 2 * ABANDON - 1,
            "kind": "abandoned",
            "source": "inferred",
            "detail": f"no activity for {ABANDON} ms",
        }
    ]
    (abandoned,) = record["signals"]
    assert (abandoned["kind"], abandoned["source"]) == ("abandoned", "inferred")
    assert record["reward"] == -0.3 and record["reward_confidence"] == 0.2


def test_feedback_is_joined_up_to_the_end_of_the_grace_period_and_not_after() -> None:
    ev = Events()
    turn = ev.turn("s", 0)
    ev.signal("s", 1_000, "task_completed")
    last_in = ev.feedback("s", 1_000 + GRACE, interaction_id=turn["event_id"], thumbs_up=False)
    too_late = ev.feedback("s", 1_001 + GRACE, interaction_id=turn["event_id"])
    results = expected_results(ev.events, CONFIG)

    record = results.turns[turn["event_id"]].record
    assert [f["event_id"] for f in record["feedback"]] == [last_in["event_id"]]
    assert record["reward"] == -0.7  # thumbs-down on a completed session's turn
    assert results.dead_letter_reasons() == {too_late["event_id"]: "too_late"}
    window = T0 + 1_000 + GRACE - (1_000 + GRACE) % 60_000
    assert results.metrics[("bot", "1.0", window)].record["thumbs_down"] == 1


def test_feedback_without_an_earlier_turn_is_too_late() -> None:
    ev = Events()
    early = ev.feedback("s", 0)
    turn = ev.turn("s", 1)
    results = expected_results(ev.events, CONFIG)
    assert results.dead_letter_reasons() == {early["event_id"]: "too_late"}
    assert results.turns[turn["event_id"]].record["feedback"] == []


def test_a_session_id_is_used_again_after_the_close() -> None:
    """A conversation resumed after its abandonment: a new session under the same id. Feedback
    naming a turn of the old one joins it within its grace period; other feedback joins the
    session current in the order, and needs a turn of it before it."""
    ev = Events()
    old = ev.turn("s", 0)  # abandoned at ABANDON
    resumed_by = ev.signal("s", ABANDON + 60_000, "copied_response")
    before_any_turn = ev.feedback("s", ABANDON + 65_000)  # the new session has no turn yet
    on_old = ev.feedback("s", ABANDON + 70_000, interaction_id=old["event_id"], thumbs_up=False)
    new = ev.turn("s", ABANDON + 80_000, agent_version="2.0")
    joins_new = ev.feedback("s", ABANDON + 80_000)  # a tie: after the new turn
    past_grace = ev.feedback("s", ABANDON + GRACE + 1, interaction_id=old["event_id"])
    results = expected_results(ev.events, CONFIG)

    old_record = results.turns[old["event_id"]].record
    assert old_record["session_outcome"] == "abandoned"
    assert [f["event_id"] for f in old_record["feedback"]] == [on_old["event_id"]]
    new_record = results.turns[new["event_id"]].record
    assert new_record["session_outcome"] == "abandoned"
    assert new_record["session_closed_at"] == T0 + ABANDON + 80_000 + ABANDON
    # Past the old session's grace, it names a turn the current session does not have.
    assert [(f["event_id"], f["session_level"]) for f in new_record["feedback"]] == [
        (joins_new["event_id"], True),
    ]
    assert new_record["session_turns"] == 1
    assert [(s.use, s.outcome) for s in results.sessions] == [(0, "abandoned"), (1, "abandoned")]
    assert results.dead_letter_reasons() == {
        before_any_turn["event_id"]: "too_late",
        past_grace["event_id"]: "unknown_interaction",
    }
    assert resumed_by["event_id"] in {s["event_id"] for s in new_record["signals"]}
    assert results.metrics[("bot", "2.0", new["event_time"] - new["event_time"] % 60_000)]


def test_redelivered_events_count_once() -> None:
    ev = Events()
    turn = ev.turn("s", 0)
    ev.signal("s", 1_000, "task_completed")
    late = ev.turn("s", 2_000)
    ev.events.append({**ev.events[0], "offset": 100})
    ev.events.append({**ev.events[2], "offset": 101})
    results = expected_results(ev.events, CONFIG)

    assert results.turns[turn["event_id"]].record["session_turns"] == 1
    assert results.metrics[("bot", "1.0", T0)].record["interactions"] == 2
    assert results.turns[late["event_id"]].record["session_turns"] == 1  # the id used again
    assert results.dead_letters == []


def test_session_level_feedback_concerns_every_turn_with_half_weight() -> None:
    ev = Events()
    first = ev.turn("s", 0)
    second = ev.turn("s", 1_000, turn_index=1)
    ev.feedback("s", 2_000, source="human_reviewer")
    ev.signal("s", 3_000, "task_completed")
    results = expected_results(ev.events, CONFIG)

    for turn in (first, second):
        record = results.turns[turn["event_id"]].record
        assert record["feedback"][0]["session_level"] is True
        # weight 1.5 / 2: confidence 0.5 + 0.25 * 0.75
        assert (record["reward"], record["reward_confidence"]) == (0.9, 0.6875)
    assert results.metrics[("bot", "1.0", T0)].record["interactions_with_feedback"] == 2


def test_feedback_naming_a_turn_the_session_does_not_have_is_refused() -> None:
    """A client that sends its own message id, or a turn of another session, as
    `interaction_id`: it used to concern every turn (a thumbs-down on one answer marked all of
    them); it is dead-lettered `unknown_interaction` and counted nowhere."""
    ev = Events()
    first = ev.turn("s", 0)
    second = ev.turn("s", 1_000, turn_index=1)
    other = ev.turn("other", 0)
    by_id = ev.feedback("s", 2_000, interaction_id="msg-42", thumbs_up=False)
    of_other = ev.feedback("s", 2_000, interaction_id=other["event_id"], thumbs_up=False)
    ev.signal("s", 3_000, "task_completed")
    results = expected_results(ev.events, CONFIG)

    for turn in (first, second):
        assert results.turns[turn["event_id"]].record["feedback"] == []
    assert results.dead_letter_reasons() == {
        by_id["event_id"]: "unknown_interaction",
        of_other["event_id"]: "unknown_interaction",
    }
    metric = results.metrics[("bot", "1.0", T0)].record
    assert metric["interactions_with_feedback"] == 0
    assert metric["thumbs_down"] == 0


def test_signals_naming_a_turn_show_on_that_turn_only() -> None:
    ev = Events()
    first = ev.turn("s", 0)
    second = ev.turn("s", 1_000, turn_index=1, retry_of=first["event_id"])
    copied = ev.signal("s", 1_500, "copied_response", interaction_id=second["event_id"])
    done = ev.signal("s", 2_000, "task_completed")
    results = expected_results(ev.events, CONFIG)

    first_record = results.turns[first["event_id"]].record
    second_record = results.turns[second["event_id"]].record
    assert [s["event_id"] for s in first_record["signals"]] == [done["event_id"]]
    assert [s["event_id"] for s in second_record["signals"]] == [
        copied["event_id"],
        done["event_id"],
    ]
    assert first_record["reward"] == 0.0  # completed +0.5, retried -0.5
    assert second_record["reward"] == 0.5 and second_record["reward_source"] == "implicit"


def test_a_session_with_signals_only_produces_nothing() -> None:
    ev = Events()
    ev.signal("s", 0, "copied_response")
    ev.signal("s", 1_000, "task_completed")
    results = expected_results(ev.events, CONFIG)
    assert results.turns == {} and results.metrics == {} and results.inferred_signals == []
    assert results.dead_letters == []


def test_a_turn_past_the_turn_cap_closes_the_session_as_unknown_and_begins_the_next() -> None:
    """`max_session_turns` 2: the third turn (in the order: the tie goes by event id) closes the
    first session at its own time with outcome `unknown` and no inferred signal, and is the
    first turn of the next; feedback naming a full session's turn joins it; feedback of the
    third turn's millisecond that names none is the next session's."""
    config = ReferenceConfig(max_session_turns=2)
    ev = Events()
    first = ev.turn("s", 0)
    second = ev.turn("s", 1_000, turn_index=1)
    third = ev.turn("s", 2_000, turn_index=2)
    on_second = ev.feedback("s", 2_500, interaction_id=second["event_id"])
    same_ms = ev.feedback("s", 2_000)
    done = ev.signal("s", 3_000, "task_completed")
    results = expected_results(ev.events, config)

    full = [results.turns[t["event_id"]].record for t in (first, second)]
    assert {(r["session_outcome"], r["session_closed_at"], r["session_turns"]) for r in full} == {
        ("unknown", T0 + 2_000, 2)
    }
    assert [s["kind"] for r in full for s in r["signals"]] == []
    assert [f["event_id"] for f in full[1]["feedback"]] == [on_second["event_id"]]
    assert full[0]["feedback"] == []
    next_one = results.turns[third["event_id"]].record
    assert (next_one["session_outcome"], next_one["session_turns"]) == ("completed", 1)
    assert [f["event_id"] for f in next_one["feedback"]] == [same_ms["event_id"]]
    assert [s["event_id"] for s in next_one["signals"]] == [done["event_id"]]
    assert results.dead_letters == []
    metric = results.metrics[("bot", "1.0", T0)].record
    assert (metric["sessions"], metric["sessions_completed"], metric["interactions"]) == (2, 1, 3)
    # Without the cap (1,000 turns) the three turns are one session.
    assert expected_results(ev.events, CONFIG).turns[first["event_id"]].record["session_turns"] == 3
