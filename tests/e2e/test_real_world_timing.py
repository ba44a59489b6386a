"""Ordinary real-world timing through the real pipeline (docs/semantics.md): the README's
example, one event time shared by a turn, its feedback and its signal, a turn that reaches Kafka
after its closing signal, a broken clock, a clock that runs fast, one that runs behind, feedback
from a browser whose clock runs behind the agent's (through the gateway), a conversation
resumed after its abandonment, an agent that uses one session id for everyone, a backlog
sent at full speed into an idle worker, and a backfill of history sent into a worker busy with
live traffic.

Each case runs a real worker and the real sink on the private stack and reads the lake back.
"""

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from gateway.keys import KeyFile
from producers import FeedbackClient
from schemas.exceptions import InvalidRecordError
from schemas.partitioning import partition_for
from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS
from stream_processors.settings import ProcessorSettings
from tests.e2e.pipeline_harness import PROCESSOR_TEST_ENV, Pipeline
from tests.e2e.pipeline_harness.reconcile import LakeSnapshot, latest_revisions
from tests.e2e.pipeline_harness.scenario import run_scenario
from tests.e2e.pipeline_harness.workload import producer_settings, scenario_traffic
from tests.integration.gateway.process import start_gateway
from verification.lake_check import verify_lake

SESSIONS = 30


def _start(pipeline: Pipeline, overrides: dict[str, str] | None = None) -> FeedbackClient:
    pipeline.start_processor(overrides)
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


def _every_turn_joined(pipeline: Pipeline, turns: set[str]) -> dict[str, dict[str, Any]]:
    """The latest revision of each turn once the lake holds exactly `turns`, none refused as
    too late."""
    snapshot = _lake_turns(pipeline, len(turns), timeout_s=120)
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert set(latest) == turns
    assert [d for d in snapshot.dead_letters if d["reason"] == "too_late"] == []
    return latest


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


BACKFILL_SESSIONS = 80


def _live_traffic(
    client: FeedbackClient, stop: threading.Event, turns: set[str], pause_s: float = 0.01
) -> None:
    """README sessions stamped with the wall clock, until `stop`: every partition busy. The
    first round puts one on each partition, so none has its watermark set by the other
    traffic of the test (a partition whose first event came 2 minutes behind the wall clock
    kept its watermark there until a live session moved it by 2 minutes at once)."""
    for partition in range(INTERACTIONS.partitions):
        turns.add(_readme_session(client, _live_session_on(partition), None))
    while not stop.is_set():
        turns.add(_readme_session(client, f"live-{uuid.uuid4().hex}", None))
        time.sleep(pause_s)


def _live_session_on(partition: int) -> str:
    """A live session id whose events go to `partition` of the input topics (the SDK
    partitions as Kafka's Java producer does: `schemas.partitioning`)."""
    while True:
        session_id = f"live-{uuid.uuid4().hex}"
        if partition_for(session_id.encode(), INTERACTIONS.partitions) == partition:
            return session_id


def _backfill_session(
    client: FeedbackClient, index: int, start_ms: int
) -> tuple[str, tuple[str, set[str]]]:
    """One session of history, its events sent in order: 1-3 turns 20 s apart, a thumbs-up on
    the first, then task_completed (every fourth session has none: abandoned). Returns its id,
    the outcome it must get and its turns."""
    session_id = f"backfill-{index}-{uuid.uuid4().hex}"
    at = start_ms + index * 7_000
    turns = []
    for turn_index in range(1 + index % 3):
        turns.append(
            _numbered_turn(client, session_id, turn_index, event_time=at + turn_index * 20_000)
        )
        if turn_index == 0:
            client.log_feedback(
                session_id=session_id,
                interaction_id=turns[0],
                kind="thumbs",
                thumbs_up=True,
                event_time=at + 5_000,
            )
    if index % 4 == 3:
        return session_id, ("abandoned", set(turns))
    client.log_signal(session_id=session_id, kind="task_completed", event_time=at + 50_000)
    return session_id, ("completed", set(turns))


def test_a_backfill_sent_into_a_worker_busy_with_live_traffic(pipeline: Pipeline) -> None:
    """Live traffic keeps every partition's watermark at the wall clock while sessions two hours
    old are sent as fast as the SDK goes, each session's events in order (history loaded into a
    running pipeline, an agent's spool flushed after an outage). Their events are read over
    several steps, all long after the watermark passed them: every backfilled session must keep
    its turns, its feedback and its outcome, and nothing may be refused as too late."""
    client = _start(pipeline)
    live_client = FeedbackClient(
        producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir / "live"),
        registry=CollectorRegistry(),
    )
    stop, live_turns = threading.Event(), set[str]()
    live = threading.Thread(target=_live_traffic, args=(live_client, stop, live_turns))
    with live_client:
        live.start()
        try:
            time.sleep(3.0)  # every partition's watermark follows the live traffic
            start_ms = int(time.time() * 1000) - 2 * 3_600_000
            with client:
                expected = dict(
                    _backfill_session(client, index, start_ms) for index in range(BACKFILL_SESSIONS)
                )
            time.sleep(2.0)
        finally:
            stop.set()
            live.join()
    backfilled = {turn for _, turns in expected.values() for turn in turns}
    snapshot = _lake_turns(pipeline, len(backfilled) + len(live_turns))
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert set(latest) == backfilled | live_turns
    too_late = [d for d in snapshot.dead_letters if d["reason"] == "too_late"]
    assert too_late == []
    assert {outcome for outcome, _ in expected.values()} == {"completed", "abandoned"}
    for session_id, (outcome, turns) in expected.items():
        records = [latest[turn] for turn in turns]
        assert {r["session_id"] for r in records} == {session_id}
        assert {r["session_outcome"] for r in records} == {outcome}, session_id
        assert {r["session_turns"] for r in records} == {len(turns)}, session_id
        first = min(records, key=lambda r: r["turn_index"])
        assert [f["thumbs_up"] for f in first["feedback"]] == [True], session_id


def test_an_agent_whose_clock_runs_fast_does_not_close_other_sessions(pipeline: Pipeline) -> None:
    """One agent stamps its events 30 s ahead of real time (accepted: within the intake's
    max_future_skew_s), on every topic; sessions close after 20 s without activity. The other
    agents' sessions, two turns 3 s apart, must keep both turns: a watermark moved 30 s ahead by
    the fast clock abandoned them after their first turn and refused the rest as too late."""
    pipeline.start_processor({"FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "20"})
    pipeline.start_sink()
    pipeline.wait_ready()
    settings = producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir)
    client = FeedbackClient(settings, registry=CollectorRegistry())
    fast_turns: set[str] = set()
    normal: dict[str, set[str]] = {}
    with client:
        for index in range(12):
            ahead = int(time.time() * 1000) + 30_000
            fast_turns.add(_readme_session(client, f"fast-clock-{index}-{uuid.uuid4().hex}", ahead))
            session_id = f"on-time-{index}-{uuid.uuid4().hex}"
            normal[session_id] = {_numbered_turn(client, session_id, 0)}
            client.flush()
            time.sleep(3.0)
            normal[session_id].add(_numbered_turn(client, session_id, 1))
            client.log_signal(session_id=session_id, kind="task_completed")
    on_time = {turn for turns in normal.values() for turn in turns}
    snapshot = _lake_turns(pipeline, len(on_time) + len(fast_turns), timeout_s=120)
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert [d for d in snapshot.dead_letters if d["reason"] == "too_late"] == []
    for session_id, turns in normal.items():
        assert {(latest[t]["session_outcome"], latest[t]["session_turns"]) for t in turns} == {
            ("completed", 2)
        }, session_id
    assert {latest[t]["session_outcome"] for t in fast_turns} == {"completed"}


def test_an_agent_whose_clock_runs_behind_keeps_its_sessions(pipeline: Pipeline) -> None:
    """Live traffic keeps every partition's watermark at the wall clock; another agent stamps
    its events 2 minutes behind real time and sends, at the pace of its clock, sessions of three
    turns 6 s apart and a completion; sessions close after 20 s without activity. Every one of
    its sessions must keep its three turns: on the partition's watermark each was abandoned at
    its first turn (2 minutes old on arrival) and the rest refused as too late."""
    pipeline.start_processor({"FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "20"})
    pipeline.start_sink()
    pipeline.wait_ready()
    settings = producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir)
    client = FeedbackClient(settings, registry=CollectorRegistry())
    live_client = FeedbackClient(
        producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir / "live"),
        registry=CollectorRegistry(),
    )
    stop, live_turns = threading.Event(), set[str]()
    live = threading.Thread(target=_live_traffic, args=(live_client, stop, live_turns, 0.2))
    slow: dict[str, set[str]] = {f"slow-clock-{i}-{uuid.uuid4().hex}": set() for i in range(6)}
    with live_client, client:
        live.start()
        try:
            time.sleep(3.0)  # every partition's watermark follows the live traffic
            for turn_index in range(3):
                behind = int(time.time() * 1000) - 120_000
                for session_id, turns in slow.items():
                    turns.add(_numbered_turn(client, session_id, turn_index, event_time=behind))
                client.flush()
                time.sleep(6.0)
            behind = int(time.time() * 1000) - 120_000
            for session_id in slow:
                client.log_signal(session_id=session_id, kind="task_completed", event_time=behind)
            client.flush()
            time.sleep(2.0)
        finally:
            stop.set()
            live.join()
    slow_turns = {turn for turns in slow.values() for turn in turns}
    snapshot = _lake_turns(pipeline, len(slow_turns) + len(live_turns), timeout_s=120)
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert set(latest) == slow_turns | live_turns
    assert [d for d in snapshot.dead_letters if d["reason"] == "too_late"] == []
    for session_id, turns in slow.items():
        assert {(latest[t]["session_outcome"], latest[t]["session_turns"]) for t in turns} == {
            ("completed", 3)
        }, session_id


def _numbered_turn(client: FeedbackClient, session_id: str, turn_index: int, **extra: Any) -> str:
    """A turn of a session of several (the README example's is always turn 0)."""
    return client.log_interaction(
        session_id=session_id,
        turn_index=turn_index,
        agent_id="travel-planner",
        agent_version="2.0.0",
        model="acme-llm-small",
        prompt=f"question {turn_index}",
        response=f"answer {turn_index}",
        latency_ms=400,
        **extra,
    )


def test_feedback_from_a_client_whose_clock_runs_behind_joins_its_turn(
    pipeline: Pipeline,
) -> None:
    """The agent logs its turns through the SDK; the user's browser posts thumbs through the
    gateway, stamped by its own clock, 3 s behind the agent's, right after each answer. Each
    thumbs must stay on the turn it names: in plain event-time order the one on the first turn
    came before any turn (refused as too late) and the one on the last turn named no turn yet
    (so it marked every turn). The browser then marks the task completed, naming the last turn,
    stamped before it: the session must close after that turn (in plain order it closed before,
    and the last turn became a session of its own, abandoned). The lake must also equal the
    batch reference.

    A thumbs reaching a partition whose watermark followed the wall clock (idle, 1.5-2 s behind
    it) has been passed by the watermark; before windows had a grace period, when a window
    boundary fell in between, it was counted in the next window, which `verify` reports: 1 run
    of 4 failed so (CI, 6 Dec). The harness's grace (5 s) covers the browser's 3 s."""
    client = _start(pipeline)
    keys = KeyFile(pipeline.work_dir / "gateway" / "keys.json")
    browser_key = keys.add("web-client")[1]
    gateway = start_gateway(pipeline.work_dir / "gateway", pipeline.bootstrap, pipeline.namespace)
    sessions: dict[str, list[str]] = {}
    thumbs: dict[str, bool] = {}
    try:
        with client:
            for index in range(6):
                session_id = f"browser-behind-{index}-{uuid.uuid4().hex}"
                turns = sessions[session_id] = []
                for turn_index in range(3):
                    turns.append(_numbered_turn(client, session_id, turn_index))
                    client.flush()
                    if turn_index == 1:
                        continue  # no feedback on the middle turn
                    thumbs[turns[-1]] = turn_index == 0
                    answer = gateway.post(
                        "/v1/feedback",
                        {
                            "session_id": session_id,
                            "interaction_id": turns[-1],
                            "kind": "thumbs",
                            "thumbs_up": turn_index == 0,
                            "event_time": int(time.time() * 1000) - 3_000,
                        },
                        browser_key,
                    )
                    assert answer.status_code < 300, answer.text
                    if turn_index == 2:
                        # The user marks the task done in the browser: stamped before the
                        # last turn, which it names.
                        answer = gateway.post(
                            "/v1/signals",
                            {
                                "session_id": session_id,
                                "interaction_id": turns[-1],
                                "kind": "task_completed",
                                "source": "client",
                                "event_time": int(time.time() * 1000) - 3_000,
                            },
                            browser_key,
                        )
                        assert answer.status_code < 300, answer.text
                    time.sleep(1.0)
            client.flush()
    finally:
        gateway.stop()
    all_turns = {turn for turns in sessions.values() for turn in turns}
    latest = _every_turn_joined(pipeline, all_turns)
    for turn in all_turns:
        shown = [(f["thumbs_up"], f["session_level"]) for f in latest[turn]["feedback"]]
        assert shown == ([(thumbs[turn], False)] if turn in thumbs else []), turn
        assert (latest[turn]["session_outcome"], latest[turn]["session_turns"]) == (
            "completed",
            3,
        ), turn
    _assert_equal_to_the_reference(pipeline, len(all_turns))


def test_a_conversation_resumed_after_its_abandonment_keeps_its_turns(pipeline: Pipeline) -> None:
    """Users come back to a conversation: the agent logs a turn, the user is silent for longer
    than `abandon_after_s` (5 s here), then asks again and the task completes, and a thumbs-down
    on the first answer arrives after that. The first use closes as abandoned and keeps the
    thumbs; the resumed one is a session of its own. Its turns used to be dead-lettered
    `too_late` for the whole grace period (120 s here, 6 h by default)."""
    overrides = {"FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "5"}
    pipeline.start_processor(overrides)
    pipeline.start_sink()
    pipeline.wait_ready()
    client = FeedbackClient(
        producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir),
        registry=CollectorRegistry(),
    )
    ids = [f"resumed-{index}-{uuid.uuid4().hex}" for index in range(6)]
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    with client:
        for session_id in ids:
            first[session_id] = _numbered_turn(client, session_id, 0)
        client.flush()
        time.sleep(8.0)  # silent for longer than abandon_after: each session is abandoned
        for session_id in ids:
            second[session_id] = _numbered_turn(client, session_id, 1)
            client.log_feedback(
                session_id=session_id,
                interaction_id=first[session_id],
                kind="thumbs",
                thumbs_up=False,
            )
            client.log_signal(session_id=session_id, kind="task_completed")
        client.flush()
    snapshot = _lake_turns(pipeline, 2 * len(ids))
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    assert [d for d in snapshot.dead_letters if d["reason"] == "too_late"] == []
    for session_id in ids:
        old, resumed = latest[first[session_id]], latest[second[session_id]]
        assert (old["session_outcome"], old["session_turns"]) == ("abandoned", 1)
        assert [(f["thumbs_up"], f["session_level"]) for f in old["feedback"]] == [(False, False)]
        assert (resumed["session_outcome"], resumed["session_turns"]) == ("completed", 1)
        assert resumed["feedback"] == []
    _assert_equal_to_the_reference(pipeline, 2 * len(ids), overrides)


def test_an_agent_that_uses_one_session_id_for_everyone(pipeline: Pipeline) -> None:
    """A bot that logs every conversation under one session id is never quiet: a turn every
    0.3 s, a thumbs-up on every third. With `max_session_turns` 4, each fourth turn's successor
    closes the session as `unknown` and begins the next (until 7 Dec nothing closed it: no
    record reached the lake). The worker is killed once it has closed one, and a new one
    carries on from its checkpoint (closed sessions are Redis rows of their own): a thumbs-down
    on the first session's second turn, sent last, revises it. The lake equals the batch
    reference."""
    overrides = {
        "FEEDBACK_PROCESSOR_MAX_SESSION_TURNS": "4",
        "FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "5",
    }
    first_worker = pipeline.start_processor(overrides)
    pipeline.start_sink()
    pipeline.wait_ready()
    client = FeedbackClient(
        producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir),
        registry=CollectorRegistry(),
    )
    session_id = f"everyone-{uuid.uuid4().hex}"
    turns: list[str] = []
    killed_at: int | None = None
    with client:
        # Kill the worker once it has closed a session (it logs each cap), then send six more
        # turns; a turn every 0.3 s meanwhile, so the id is never quiet for `abandon_after`.
        while killed_at is None or len(turns) < killed_at + 6:
            index = len(turns)
            assert index < 60, "the worker closed no session in 18 s of traffic"
            turns.append(_numbered_turn(client, session_id, index))
            if index % 3 == 0:
                client.log_feedback(
                    session_id=session_id, interaction_id=turns[-1], kind="thumbs", thumbs_up=True
                )
            client.flush()
            log = first_worker.log_path.read_text(errors="replace")
            if killed_at is None and index >= 8 and "reached max_session_turns" in log:
                first_worker.kill()
                pipeline.start_processor(overrides)
                killed_at = len(turns)
            time.sleep(0.3)
        client.log_feedback(
            session_id=session_id, interaction_id=turns[1], kind="thumbs", thumbs_up=False
        )
        client.flush()
    latest = _every_turn_joined(pipeline, set(turns))
    uses = [turns[start : start + 4] for start in range(0, len(turns), 4)]
    for number, use in enumerate(uses):
        records = [latest[turn] for turn in use]
        if number < len(uses) - 1:
            closed_at = latest[uses[number + 1][0]]["event_time"]
            assert {(r["session_outcome"], r["session_turns"]) for r in records} == {("unknown", 4)}
            assert {r["session_closed_at"] for r in records} == {closed_at}
        else:
            assert {(r["session_outcome"], r["session_turns"]) for r in records} == {
                ("abandoned", len(use))
            }
    assert [f["thumbs_up"] for f in latest[turns[1]]["feedback"]] == [False]
    assert latest[turns[1]]["revision"] == 1
    assert [f["thumbs_up"] for f in latest[turns[3]]["feedback"]] == [True]
    _assert_equal_to_the_reference(pipeline, len(turns), overrides)


def test_event_ids_of_an_agents_own_with_a_slash_survive_a_worker_restart(
    pipeline: Pipeline,
) -> None:
    """An agent without the SDK names its events itself, `conv-7/msg-3` (the SDK only makes
    UUIDs). The worker is killed while the session is open, its turns in the checkpoint; the
    new one loads the partition and closes the session with every turn and its thumbs. Until 7
    Dec the worker filed checkpointed entries by splitting their keys at the last "/": the turn
    went to a session `conv-7/msg`, and loading the partition failed (KeyError) on every
    restart."""
    first_worker = pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    session_id = f"conv-{uuid.uuid4().hex}"
    raw = Producer({"bootstrap.servers": pipeline.bootstrap, "partitioner": "murmur2_random"})

    def send(spec: Any, record: dict[str, Any]) -> None:
        topic = spec.in_namespace(pipeline.namespace).name
        raw.produce(topic, key=session_id.encode(), value=serializer_for(spec).encode(record))
        assert raw.flush(30) == 0

    turns = [f"{session_id}/msg-{index}" for index in range(3)]
    for index, event_id in enumerate(turns):
        record = {
            **_interaction_defaults(),
            "event_id": event_id,
            "session_id": session_id,
            "turn_index": index,
            "agent_id": "support-bot",
            "agent_version": "1.4.0",
            "model": "acme-llm-large",
            "prompt": f"question {index}",
            "response": f"answer {index}",
            "latency_ms": 5,
            "event_time": int(time.time() * 1000),
        }
        send(INTERACTIONS, record)
        time.sleep(0.2)
    thumbs = {
        "event_id": f"{session_id}/thumbs-1",
        "session_id": session_id,
        "interaction_id": turns[1],
        "event_time": int(time.time() * 1000),
        "kind": "thumbs",
        "thumbs_up": False,
        "rating": None,
        "correction": None,
        "comment": None,
        "source": "end_user",
        "rater_id": None,
    }
    send(FEEDBACK, thumbs)
    time.sleep(3.0)  # read and checkpointed (every 0.5 s); the session stays open (60 s)
    first_worker.kill()
    pipeline.start_processor()
    done = {
        "event_id": f"{session_id}/done",
        "session_id": session_id,
        "interaction_id": None,
        "event_time": int(time.time() * 1000),
        "kind": "task_completed",
        "source": "agent",
        "detail": None,
    }
    send(SIGNALS, done)
    latest = _every_turn_joined(pipeline, set(turns))
    assert {r["session_outcome"] for r in latest.values()} == {"completed"}
    assert [f["event_id"] for f in latest[turns[1]]["feedback"]] == [thumbs["event_id"]]
    assert latest[turns[0]]["feedback"] == []


def _assert_equal_to_the_reference(
    pipeline: Pipeline, turns: int, overrides: dict[str, str] | None = None
) -> None:
    """`verify_lake` with the worker's settings, once every metrics window in the lake has its
    final record (the finalizer publishes a window once every partition's watermark passed it;
    idle inputs' watermarks follow the wall clock)."""

    def all_final() -> bool:
        rows = (
            pipeline.lake.open("quality_metrics")
            .to_pyarrow_table(columns=["agent_id", "agent_version", "window_start", "is_final"])
            .to_pylist()
        )
        windows = {(r["agent_id"], r["agent_version"], r["window_start"]) for r in rows}
        final = {
            (r["agent_id"], r["agent_version"], r["window_start"]) for r in rows if r["is_final"]
        }
        return bool(windows) and windows == final

    pipeline.wait_until(all_final, 90, "a final record for every metrics window in the lake")
    pipeline.wait_lake_caught_up(60)
    env = {**PROCESSOR_TEST_ENV, **pipeline.event_time_env, **(overrides or {})}
    timing = {k.removeprefix("FEEDBACK_PROCESSOR_").lower(): v for k, v in env.items()}
    settings = ProcessorSettings(namespace=pipeline.namespace, **timing)  # type: ignore[arg-type]
    verified = verify_lake(pipeline.lake, settings)
    assert verified.compared["enriched_interactions"] >= turns
    assert verified.ok, "\n".join(d.line() for d in verified.differences)


def test_feedback_naming_an_id_of_the_clients_own_is_dead_lettered(pipeline: Pipeline) -> None:
    """A client passes ids of its own as `interaction_id` (not the event ids the SDK returned).
    Each such thumbs-down used to concern every turn of its session (marking both answers
    bad); it is dead-lettered `unknown_interaction` (once `feedback_lead_s` has passed: its
    turn might still have been on its way), the turns keep only the feedback that names them,
    and the lake equals the batch reference."""
    client = _start(pipeline)
    sessions: dict[str, list[str]] = {}
    refused: set[str] = set()
    with client:
        for index in range(4):
            session_id = f"own-ids-{index}-{uuid.uuid4().hex}"
            turns = sessions[session_id] = [
                _numbered_turn(client, session_id, turn_index) for turn_index in range(2)
            ]
            client.log_feedback(
                session_id=session_id, interaction_id=turns[0], kind="thumbs", thumbs_up=True
            )
            refused.add(
                client.log_feedback(
                    session_id=session_id,
                    interaction_id=str(uuid.uuid4()),  # the client's own message id
                    kind="thumbs",
                    thumbs_up=False,
                )
            )
            client.log_signal(session_id=session_id, kind="task_completed")
    all_turns = {turn for turns in sessions.values() for turn in turns}

    def refused_in_lake() -> int:
        if not pipeline.lake.exists("dead_letters"):
            return 0
        reasons = pipeline.lake.open("dead_letters").to_pyarrow_table(columns=["reason"])
        return reasons.column("reason").to_pylist().count("unknown_interaction")

    # Each is held for `feedback_lead_s` (60 s) in case its turn is still on its way.
    pipeline.wait_until(lambda: refused_in_lake() >= len(refused), 150, "the refused thumbs")
    snapshot = _lake_turns(pipeline, len(all_turns))
    latest, problems = latest_revisions(snapshot.enriched)
    assert not problems, problems
    for turns in sessions.values():
        shown = [
            [(f["thumbs_up"], f["session_level"]) for f in latest[turn]["feedback"]]
            for turn in turns
        ]
        assert shown == [[(True, False)], []], shown
    decode = serializer_for(FEEDBACK.in_namespace(pipeline.namespace)).decode
    letters = [d for d in snapshot.dead_letters if d["reason"] == "unknown_interaction"]
    shown = [(d["reason"], d["detected_by"], d["message"][:300]) for d in snapshot.dead_letters]
    assert {decode(d["original"])["event_id"] for d in letters} == refused, shown
    _assert_equal_to_the_reference(pipeline, len(all_turns))
