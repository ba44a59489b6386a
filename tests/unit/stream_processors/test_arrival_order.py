"""Property: a partition's results do not depend on how its events arrive (docs/semantics.md).

Generated sessions with adversarial timing — one millisecond shared by a turn, its feedback and
its terminal signal, feedback before its turn, duplicates, session-level feedback, retries,
abandonment, history far older than the wall clock — are read from a backlog in every kind of
interleaving of the three topics (each topic in its own order, as Kafka keeps it), in bursts of
any size with wall-clock pauses longer than the idle timeout between them. The highest revision
of every turn, the dead letters and the window counts must equal those of reading everything
in one step.
"""

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_processors.partition import PartitionConfig, PartitionProcessor
from tests.unit.stream_processors.conftest import EventFactory

CONFIG = PartitionConfig(
    abandon_after_ms=60_000,
    grace_ms=120_000,
    lateness_ms=0,
    idle_timeout_ms=1_000,
    window_ms=10_000,
    sample_size=64,
)
TOPICS = ("interaction", "feedback", "signal")


def _session(rng: random.Random, index: int) -> list[dict[str, Any]]:
    factory = EventFactory(f"s-{index}")
    start = rng.choice([0.0, rng.uniform(0, 200)])
    entries: list[dict[str, Any]] = []
    at = start
    turns = []
    for turn in range(rng.randint(1, 4)):
        entry = factory.interaction(at, turn)
        entries.append(entry)
        turns.append(entry["record"]["event_id"])
        if rng.random() < 0.5:  # feedback in the same millisecond, or later, or before
            offset = rng.choice([0.0, 0.0, rng.uniform(0, 90), -rng.uniform(0, 5)])
            target = rng.choice([entry["record"]["event_id"], None])
            entries.append(
                factory.feedback(max(0.0, at + offset), interaction_id=target, thumbs_up=True)
            )
        if rng.random() < 0.2:
            entries.append(factory.signal(at, "retried", entry["record"]["event_id"]))
        at += rng.choice([0.0, rng.uniform(0.001, 30)])
    ending = rng.random()
    if ending < 0.6:
        close_at = at if rng.random() < 0.5 else at + rng.uniform(0, 20)
        entries.append(factory.signal(close_at, rng.choice(["task_completed", "task_failed"])))
    if rng.random() < 0.3:  # late feedback, within or beyond the grace period
        entries.append(factory.feedback(at + rng.uniform(0, 300), kind="rating", rating=4))
    return entries


def _backlog(seed: int, sessions: int) -> dict[str, list[dict[str, Any]]]:
    """Each topic's messages in the order they were written: event-time order, ties in any
    order, some events written twice."""
    rng = random.Random(seed)
    entries = [e for index in range(sessions) for e in _session(rng, index)]
    for entry in rng.sample(entries, k=len(entries) // 10):
        entries.append(entry)  # a redelivery
    rng.shuffle(entries)
    by_topic: dict[str, list[dict[str, Any]]] = {topic: [] for topic in TOPICS}
    for entry in sorted(entries, key=lambda e: e["record"]["event_time"]):  # stable: ties shuffled
        by_topic[entry["kind"]].append(entry)
    return by_topic


def _run(backlog: dict[str, list[dict[str, Any]]], schedule: random.Random | None) -> Any:
    """Read the backlog: in one step (schedule None), or in bursts chosen by `schedule`."""
    processor = PartitionProcessor(0, CONFIG, now=0)
    now = 0.0
    positions = dict.fromkeys(TOPICS, 0)
    outputs: list[Any] = []

    def step() -> None:
        caught_up = {t for t in TOPICS if positions[t] == len(backlog[t])}
        outputs.append(processor.advance(now, caught_up, TOPICS))

    while any(positions[t] < len(backlog[t]) for t in TOPICS):
        open_topics = [t for t in TOPICS if positions[t] < len(backlog[t])]
        topic = schedule.choice(open_topics) if schedule else open_topics[0]
        count = schedule.randint(1, 6) if schedule else len(backlog[topic])
        for entry in backlog[topic][positions[topic] : positions[topic] + count]:
            positions[topic] += 1
            processor.ingest(topic, positions[topic], entry, now)
        if schedule is None:
            continue
        # A pause, ticking as the worker does (every 200 ms); some exceed the idle timeout.
        for _ in range(schedule.choice([1, 1, 3, 13])):
            now += 200.0
            step()
    # Traffic stopped: every input idle, the watermark follows the wall clock until every
    # session closed and its grace period ended.
    while processor.sessions and now < 10_000_000:
        now += 900.0
        step()
    return processor, outputs


def _results(run: Any) -> tuple[dict[str, Any], list[tuple[str, str]], dict[Any, dict[str, int]]]:
    processor, outputs = run
    latest: dict[str, dict[str, Any]] = {}
    dead: list[tuple[str, str]] = []
    for out in outputs:
        for record in out.enriched:
            latest[record["event_id"]] = {k: v for k, v in record.items() if k != "revision"}
        dead += [(entry["record"]["event_id"], "too_late") for entry, _ in out.too_late]
    windows = {key: dict(partial.counts) for key, partial in processor.windows.items()}
    # A copy redelivered after its session's state was dropped (close + grace) is dead-lettered
    # again: compare which events were refused, not how many copies.
    return latest, sorted(set(dead)), windows


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), schedule=st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_arrival(seed: int, schedule: int) -> None:
    backlog = _backlog(seed, sessions=4)
    expected = _results(_run(backlog, None))
    found = _results(_run(backlog, random.Random(schedule)))
    assert found[0] == expected[0]
    assert found[1] == expected[1]
    assert found[2] == expected[2]


def test_the_one_step_run_applies_each_session_in_the_documented_order() -> None:
    """The baseline itself: ties belong to the session (no turn of a completed session in the
    same millisecond as its close is dead-lettered)."""
    backlog = _backlog(7, sessions=30)
    latest, dead, _ = _results(_run(backlog, None))
    entries = {e["record"]["event_id"]: e for topic in TOPICS for e in backlog[topic]}
    for event_id, _ in dead:
        assert entries[event_id]["kind"] != "interaction"
    turns = [e for e in entries.values() if e["kind"] == "interaction"]
    assert {t["record"]["event_id"] for t in turns} == set(latest)
