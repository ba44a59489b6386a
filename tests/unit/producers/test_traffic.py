"""The traffic generator: deterministic, in event-time order, with a ground truth true to it."""

from collections import Counter
from itertools import pairwise

import pytest

from producers.bad_records import BAD_RECORD_KINDS, make_bad_record
from producers.traffic import TrafficConfig, generate_traffic
from schemas import ContractError, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

TERMINAL = {
    "task_completed": "completed",
    "task_failed": "failed",
    "escalated_to_human": "escalated",
}


def _events(**overrides):
    config = {"sessions": 300, "seed": 5, **overrides}
    traffic = generate_traffic(TrafficConfig(**config))
    return traffic, list(traffic.events())


def test_same_seed_same_bytes_other_seed_other_bytes():
    _, first = _events()
    _, again = _events()
    _, other = _events(seed=6)
    assert [e.value() for e in first] == [e.value() for e in again]
    assert [e.value() for e in first] != [e.value() for e in other]


def test_events_come_in_event_time_order_and_decode():
    _, events = _events()
    times = [event.event_time for event in events]
    assert times == sorted(times)
    for event in events:
        assert serializer_for(event.topic).decode(event.value()) == event.record


def test_truth_matches_the_events():
    traffic, events = _events(too_late_share=0.2, feedback_grace_s=3600)
    truth = traffic.truth
    interactions = [e.record for e in events if e.topic is INTERACTIONS]
    assert len(interactions) == truth.interaction_count()
    terminal = Counter()
    for event in events:
        if event.topic is SIGNALS and event.record["kind"] in TERMINAL:
            session = truth.sessions[event.record["session_id"]]
            assert TERMINAL[event.record["kind"]] == session.outcome
            assert event.record["event_id"] == session.closed_by
            terminal[session.session_id] += 1
    for session in truth.sessions.values():
        assert terminal[session.session_id] == (0 if session.outcome == "abandoned" else 1)
        assert session.closed_at_ms >= session.last_activity_ms
    feedback = [e.record for e in events if e.topic is FEEDBACK]
    grace_ms = 3600 * 1000
    late = {
        f["event_id"]
        for f in feedback
        if f["event_time"] > truth.sessions[f["session_id"]].closed_at_ms + grace_ms
    }
    assert late == truth.too_late_feedback and late
    thumbs = Counter()
    for f in feedback:
        if f["kind"] == "thumbs" and f["event_id"] not in late:
            agent = truth.sessions[f["session_id"]].agent
            thumbs[agent, f["thumbs_up"]] += 1
    for agent, (up, down) in truth.thumbs_counts().items():
        assert (thumbs[agent, True], thumbs[agent, False]) == (up, down)


def test_turn_gaps_stay_below_abandonment_and_retries_point_back():
    _, events = _events()
    by_session: dict[str, list[dict]] = {}
    for event in events:
        if event.topic is INTERACTIONS:
            by_session.setdefault(event.record["session_id"], []).append(event.record)
    retries = 0
    for turns in by_session.values():
        for before, after in pairwise(turns):
            assert after["event_time"] - before["event_time"] < 600_000
            if after["retry_of"] is not None:
                retries += 1
                assert after["retry_of"] == before["event_id"]
                assert after["prompt"] == before["prompt"]
    assert retries > 0


def test_versions_differ_in_true_quality():
    traffic, _ = _events(sessions=1500)
    rates = {}
    for agent, (up, down) in traffic.truth.thumbs_counts().items():
        rates[agent] = up / (up + down)
    assert rates["support-bot", "1.4.0"] > rates["support-bot", "1.5.0"] + 0.1


@pytest.mark.parametrize("kind", list(BAD_RECORD_KINDS))
def test_bad_records_fail_with_their_reason(kind):
    import random

    topic, key, value, reason = make_bad_record(random.Random(3), kind, 2_000_000)
    if reason in {"missing_key", "schema_invalid", "oversized"}:
        # The body is valid Avro: the processor, not the contract, rejects these.
        record = serializer_for(topic).decode(value)
        assert key is None if reason == "missing_key" else key == record["session_id"].encode()
    else:
        with pytest.raises(ContractError) as failure:
            serializer_for(topic).decode(value)
        assert failure.value.reason == reason


def test_bad_and_duplicate_shares_are_counted():
    traffic, events = _events(bad_record_share=0.05, duplicate_share=0.05)
    truth = traffic.truth
    assert len([e for e in events if e.bad_reason]) == len(truth.bad_records) > 0
    assert len([e for e in events if e.duplicate]) == truth.duplicates > 0
    assert truth.good_event_count() == len(events) - len(truth.bad_records) - truth.duplicates


def test_handed_off_sessions_change_agent_from_one_turn_on_and_others_never_do():
    def agents_per_session(**overrides) -> dict[str, list[tuple[str, str]]]:
        _, events = _events(**overrides)
        speakers: dict[str, list[tuple[str, str]]] = {}
        for event in events:
            if event.topic is INTERACTIONS:
                record = event.record
                speaker = (record["agent_id"], record["agent_version"])
                speakers.setdefault(record["session_id"], []).append(speaker)
        return speakers

    assert all(len(set(s)) == 1 for s in agents_per_session().values())
    handed = [s for s in agents_per_session(handoff_share=0.5).values() if len(set(s)) > 1]
    assert handed
    for speakers in handed:  # the first agent until the handoff, the other one after it
        switch = next(i for i, speaker in enumerate(speakers) if speaker != speakers[0])
        assert len(set(speakers[:switch])) == len(set(speakers[switch:])) == 1
