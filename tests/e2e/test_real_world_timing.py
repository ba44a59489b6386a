"""Ordinary real-world timing through the real pipeline (docs/semantics.md): the README's
example, one event time shared by a turn, its feedback and its signal, a turn that reaches Kafka
after its closing signal, a broken clock, and a backlog sent at full speed into an idle worker.

Each case runs a real worker and the real sink on the private stack and reads the lake back.
"""

import time
import uuid
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from producers import FeedbackClient
from schemas.exceptions import InvalidRecordError
from schemas.serializer import serializer_for
from schemas.topics import INTERACTIONS
from tests.e2e.pipeline_harness import Pipeline
from tests.e2e.pipeline_harness.reconcile import LakeSnapshot, latest_revisions
from tests.e2e.pipeline_harness.scenario import run_scenario
from tests.e2e.pipeline_harness.workload import producer_settings, scenario_traffic

SESSIONS = 30


def _start(pipeline: Pipeline) -> FeedbackClient:
    pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    settings = producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir)
    return FeedbackClient(settings, registry=CollectorRegistry())


def _readme_session(client: FeedbackClient, session_id: str, event_time: int | None) -> str:
    """The README's example, verbatim but for the session id (and a shared event time)."""
    stamp: dict[str, Any] = {} if event_time is None else {"event_time": event_time}
    turn = _log_readme_turn(client, session_id, **stamp)
    client.log_feedback(
        session_id=session_id, interaction_id=turn, kind="thumbs", thumbs_up=True, **stamp
    )
    client.log_signal(session_id=session_id, kind="task_completed", **stamp)
    return turn


def _log_readme_turn(client: FeedbackClient, session_id: str, **extra: Any) -> str:
    """The README example's `log_interaction` call."""
    return client.log_interaction(
        session_id=session_id,
        turn_index=0,
        agent_id="support-bot",
        agent_version="1.4.0",
        model="acme-llm-large",
        prompt="How do I reset my password?",
        response="Open Settings, then Security, then Reset password.",
        latency_ms=830,
        prompt_tokens=25,
        completion_tokens=40,
        cost_usd=0.0004,
        tools_used=[{"name": "search_kb", "arguments": {"query": "reset password"}}],
        **extra,
    )


def _lake_turns(pipeline: Pipeline, expected: int, timeout_s: float = 90.0) -> LakeSnapshot:
    """The lake once it holds `expected` turns and every offset of every topic."""

    def enough() -> bool:
        if not pipeline.lake.exists("enriched_interactions"):
            return False
        table = pipeline.lake.open("enriched_interactions").to_pyarrow_table(columns=["event_id"])
        return len(set(table.column("event_id").to_pylist())) >= expected

    pipeline.wait_until(enough, timeout_s, f"{expected} turns in enriched_interactions")
    pipeline.wait_lake_caught_up(60)
    return LakeSnapshot.read(pipeline.lake, pipeline.namespace, pipeline.end_offsets())


def _assert_all_joined(snapshot: LakeSnapshot, turns: set[str]) -> None:
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert set(latest) == turns
    assert Counter(r["session_outcome"] for r in latest.values()) == {"completed": len(turns)}
    for record in latest.values():
        assert [f["thumbs_up"] for f in record["feedback"]] == [True], record["feedback"]
        assert record["reward_source"] == "explicit"
    too_late = [d for d in snapshot.dead_letters if d["reason"] == "too_late"]
    assert too_late == []


@pytest.mark.parametrize("shared_event_time", [False, True], ids=["as-written", "one-ms"])
def test_the_readme_example_keeps_every_turn(pipeline: Pipeline, shared_event_time: bool) -> None:
    client = _start(pipeline)
    turns = set()
    with client:
        for index in range(SESSIONS):
            stamp = int(time.time() * 1000) if shared_event_time else None
            turns.add(_readme_session(client, f"readme-{index}-{uuid.uuid4().hex}", stamp))
    assert client.stats().delivered == 3 * SESSIONS and client.stats().failed == 0
    _assert_all_joined(_lake_turns(pipeline, SESSIONS), turns)


def test_a_turn_that_reaches_kafka_after_its_closing_signal(pipeline: Pipeline) -> None:
    """Feedback and task_completed first; the turn (same millisecond) only after the worker's
    inputs went idle (its idle timeout is 1 s) and its watermark passed them."""
    client = _start(pipeline)
    stamp = int(time.time() * 1000)
    sessions = [(f"late-turn-{i}-{uuid.uuid4().hex}", str(uuid.uuid4())) for i in range(SESSIONS)]
    with client:
        for session_id, turn in sessions:
            client.log_feedback(
                session_id=session_id,
                interaction_id=turn,
                kind="thumbs",
                thumbs_up=True,
                event_time=stamp,
            )
            client.log_signal(session_id=session_id, kind="task_completed", event_time=stamp)
        client.flush()
        time.sleep(5.0)
        for session_id, turn in sessions:
            _log_readme_turn(client, session_id, event_id=turn, event_time=stamp)
    _assert_all_joined(_lake_turns(pipeline, SESSIONS), {turn for _, turn in sessions})


def test_a_broken_clock_is_refused_and_does_not_move_the_watermark(pipeline: Pipeline) -> None:
    client = _start(pipeline)
    year_2099 = 4_070_908_800_000
    broken = {
        "session_id": "broken-clock",
        "turn_index": 0,
        "agent_id": "support-bot",
        "agent_version": "1.4.0",
        "model": "acme-llm-large",
        "prompt": "p",
        "response": "r",
        "latency_ms": 1,
        "event_time": year_2099,
    }
    with client:
        with pytest.raises(InvalidRecordError) as refused:
            client.log_interaction(**broken)
        assert refused.value.field == "event_time"
        # An agent without the SDK sends it anyway.
        record = {**_interaction_defaults(), **broken, "event_id": str(uuid.uuid4())}
        raw = Producer({"bootstrap.servers": pipeline.bootstrap})
        topic = INTERACTIONS.in_namespace(pipeline.namespace).name
        raw.produce(topic, key=b"broken-clock", value=serializer_for(INTERACTIONS).encode(record))
        assert raw.flush(30) == 0
        time.sleep(2.0)
        turns = {_readme_session(client, f"after-{i}-{uuid.uuid4().hex}", None) for i in range(10)}
    snapshot = _lake_turns(pipeline, 10)
    _assert_all_joined(snapshot, turns)
    assert [d["reason"] for d in snapshot.dead_letters] == ["future_event_time"]
    assert all(m["window_start"] < year_2099 - 10**12 for m in snapshot.metrics)


def _interaction_defaults() -> dict[str, Any]:
    return {
        "user_id": None,
        "reasoning": None,
        "tools_used": [],
        "context": {},
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "retry_of": None,
    }


def test_a_backlog_sent_at_full_speed_into_an_idle_worker(pipeline: Pipeline) -> None:
    """The worker runs, idle, for longer than its idle timeout; then hours of event time of
    traffic arrive as fast as the SDK sends them. The lake must equal the generator's truth."""
    config = scenario_traffic(
        400, seed=23, sessions_per_second=0.15, max_feedback_delay_s=100, feedback_share=0.5
    )
    pipeline.match_traffic(config)
    pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    time.sleep(5.0)  # idle: every input read to its end for 5x the idle timeout
    result = run_scenario(pipeline, config, rate=0.0, already_started=True)
    span_h = (result.produced.last_event_time - config.start_time_ms) / 3_600_000
    assert span_h > 0.5
