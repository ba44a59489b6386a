"""Which agent and version a session's metrics count for (docs/semantics.md, Outputs).

Real sessions change agent between turns: a router hands the conversation to a specialist
under the same session id, a new version is deployed while the session is open. A turn, its
coverage and feedback on it count for the turn's own agent and version; the outcome and
session-level feedback for the session's first turn's. Until 7 Dec everything counted for the
first turn's agent: a specialist behind a router had no metrics, and a new version's turns were
the old one's. The property tests (`test_arrival_order._hand_off`) compare the rule with the
batch reference in any arrival order; here, explicit numbers.
"""

from typing import Any

from tests.unit.stream_processors.conftest import T0, EventFactory, reference_config
from tests.unit.stream_processors.test_partition import CONFIG, Driver
from verification.comparison import compare_metrics
from verification.reference import expected_results

ROUTER, DEPLOYED, SPECIALIST = ("bot", "1.0"), ("bot", "1.1"), ("billing", "3.0")


def _turn(events: EventFactory, at_s: float, index: int, agent: tuple[str, str]) -> Any:
    return events.interaction(at_s, index, agent_id=agent[0], agent_version=agent[1])


def _counts(drive: Driver, agent: tuple[str, str]) -> dict[str, int]:
    partial = drive.processor.windows.get((agent[0], agent[1], T0))
    assert partial is not None, f"no window for {agent}"
    counts = partial.counts
    return {name: value for name, value in counts.items() if value and name != "cost_nanos"}


def test_turns_and_their_feedback_count_for_their_own_agent_the_session_for_its_first(
    events: EventFactory,
) -> None:
    turns = [
        _turn(events, 0, 0, ROUTER),
        _turn(events, 10, 1, DEPLOYED),  # the same agent, deployed anew mid-session
        _turn(events, 20, 2, SPECIALIST),  # handed off to another agent
    ]
    specialist_turn = turns[2]["record"]["event_id"]
    entries = [
        *turns,
        events.feedback(25, interaction_id=specialist_turn, thumbs_up=False),
        events.feedback(26, kind="rating", rating=4),  # on the session
        events.signal(30, "task_completed"),
    ]
    drive = Driver()
    drive.ingest(*entries)
    drive.until(40)

    assert _counts(drive, ROUTER) == {
        "interactions": 1,
        "tool_calls": 1,
        "sessions": 1,
        "sessions_completed": 1,
        "ratings": 1,
        "rating_sum": 4,
        "interactions_with_feedback": 1,
    }
    assert _counts(drive, DEPLOYED) == {
        "interactions": 1,
        "tool_calls": 1,
        "interactions_with_feedback": 1,  # the session's rating covers it
    }
    assert _counts(drive, SPECIALIST) == {
        "interactions": 1,
        "tool_calls": 1,
        "thumbs_down": 1,
        "interactions_with_feedback": 1,
    }
    events_with_offsets = [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(entries)]
    expected = expected_results(events_with_offsets, reference_config(CONFIG))
    finals = {
        key: partial.to_record(*key, key[2] + CONFIG.window_ms, is_final=True, update_seq=0)
        for key, partial in drive.processor.windows.items()
    }
    assert [d.line() for d in compare_metrics(expected.metrics, finals)] == []
