"""The processor against the real stack: generator traffic in, outputs checked against the truth.

One reference run; a replay into fresh topics and a run whose worker is killed with SIGKILL
mid-stream must give the same enriched records and final metrics (after dropping re-emitted
duplicates by their natural key, which must be byte-identical).
"""

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas.serializer import serializer_for
from schemas.topics import ENRICHED, FEEDBACK
from tests.integration.test_processor_support import (
    Namespace,
    Outputs,
    Produced,
    Worker,
    namespace_for,
    read_topic,
    run_to_completion,
    traffic_config,
    wait_for_settled,
    wait_until,
)

CONFIG = traffic_config(sessions=150, seed=11)


@pytest.fixture(scope="module")
def reference(
    bootstrap_servers: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Produced, Outputs]]:
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        produced = namespace.produce(CONFIG)
        log = tmp_path_factory.mktemp("processor") / "reference-worker.log"
        yield produced, run_to_completion(namespace, produced, log)


def test_outputs_match_the_ground_truth(reference: tuple[Produced, Outputs]) -> None:
    produced, outputs = reference
    truth = produced.truth
    keys = [(r["event_id"], r["revision"]) for r, _ in outputs.enriched]
    assert len(keys) == len(set(keys)), "an uninterrupted run emits each record once"

    first = {r["event_id"]: r for r, _ in outputs.enriched if r["revision"] == 0}
    turns = {t.event_id: s for s in truth.sessions.values() for t in s.turns}
    assert set(first) == set(turns)
    for event_id, record in first.items():
        assert record["session_outcome"] == turns[event_id].outcome, record["session_id"]

    finals = outputs.final_records()
    windows = [(r["agent_id"], r["agent_version"], r["window_start"]) for r in finals]
    assert len(windows) == len(set(windows)) == len(outputs.finals())
    outcomes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    thumbs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    interactions: Counter[tuple[str, str]] = Counter()
    for record in finals:
        agent = (record["agent_id"], record["agent_version"])
        for outcome in ("completed", "failed", "abandoned", "escalated"):
            outcomes[agent][outcome] += record[f"sessions_{outcome}"]
        thumbs[agent][0] += record["thumbs_up"]
        thumbs[agent][1] += record["thumbs_down"]
        interactions[agent] += record["interactions"]
    expected_outcomes = {a: Counter(c) for a, c in truth.outcome_counts().items()}
    assert {a: +c for a, c in outcomes.items()} == expected_outcomes
    assert {a: tuple(c) for a, c in thumbs.items() if c != [0, 0]} == truth.thumbs_counts()
    expected_interactions: Counter[tuple[str, str]] = Counter()
    for session in truth.sessions.values():
        expected_interactions[session.agent] += len(session.turns)
    assert interactions == expected_interactions


def test_bad_records_become_dead_letters_with_their_reason(
    reference: tuple[Produced, Outputs],
) -> None:
    produced, outputs = reference
    truth = produced.truth
    assert truth.bad_records and truth.too_late_feedback, "the traffic must exercise this"
    reasons = Counter(d["reason"] for d in outputs.dead_letters if d["reason"] != "too_late")
    assert reasons == Counter(reason for _, reason in truth.bad_records)
    decode = serializer_for(FEEDBACK).decode
    too_late = {
        decode(d["original"])["event_id"] for d in outputs.dead_letters if d["reason"] == "too_late"
    }
    assert too_late == truth.too_late_feedback
    for letter in outputs.dead_letters:
        assert letter["detected_by"] == "processor"
        assert letter["original_size"] >= len(letter["original"])


def test_replay_into_fresh_topics_is_identical(
    reference: tuple[Produced, Outputs], bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    _, expected = reference
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        produced = namespace.produce(CONFIG)
        replayed = run_to_completion(namespace, produced, tmp_path / "replay-worker.log")
    assert replayed.enriched_by_key() == expected.enriched_by_key()
    assert replayed.finals() == expected.finals()


def test_kill_9_mid_stream_then_restart_loses_nothing(
    reference: tuple[Produced, Outputs], bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    _, expected = reference
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        produced = namespace.produce(CONFIG)
        log = tmp_path / "killed-worker.log"
        first = Worker(namespace, log)
        try:
            wait_until(lambda: _has_enriched(namespace), 90, "the first enriched records", first)
        finally:
            first.kill()
        assert namespace.finalized_until() is None or (
            namespace.finalized_until() <= produced.settle_time
        ), "killed too late to test anything"
        second = Worker(namespace, log)
        try:
            wait_for_settled(namespace, produced, second)
        finally:
            second.stop()
        outputs = Outputs.read(namespace)
    assert outputs.enriched_by_key() == expected.enriched_by_key()
    assert outputs.finals() == expected.finals()


def _has_enriched(namespace: Namespace) -> bool:
    time.sleep(0.2)
    return len(read_topic(namespace.bootstrap, namespace.topic(ENRICHED))) > 0


def test_two_workers_split_partitions_and_survive_one_killed(
    reference: tuple[Produced, Outputs], bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    _, expected = reference
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        produced = namespace.produce(CONFIG)
        # A longer idle timeout only delays the end (the wall-clock advance), not the results:
        # it leaves time for both workers to join before the backlog is settled.
        slow_end = {"FEEDBACK_PROCESSOR_IDLE_TIMEOUT_S": "15"}
        survivor = Worker(namespace, tmp_path / "survivor.log", slow_end)
        victim = Worker(namespace, tmp_path / "victim.log", slow_end)
        try:
            wait_until(lambda: _owners(namespace) >= 2, 60, "two workers owning partitions", victim)
            assert not _settled(namespace, produced), "killed too late to test anything"
            victim.kill()  # its partitions move to the survivor, with their state in Redis
            wait_for_settled(namespace, produced, survivor)
        finally:
            victim.kill()
            survivor.stop()
        outputs = Outputs.read(namespace)
    assert outputs.enriched_by_key() == expected.enriched_by_key()
    assert outputs.finals() == expected.finals()


def _settled(namespace: Namespace, produced: Produced) -> bool:
    until = namespace.finalized_until()
    return until is not None and until > produced.settle_time


def _owners(namespace: Namespace) -> int:
    """How many distinct workers hold an owner token of this namespace's partitions."""
    client = redis.Redis.from_url(namespace.redis_url)
    prefix = namespace.settings.redis_prefix
    tokens = {client.get(f"{prefix}:owner:{p}") for p in range(6)}
    return len({t for t in tokens if t})
