"""Faults of a replicated stack: a Kafka broker killed (kill -9) and a Redis primary killed.

The stack is the shape of `feedbackctl stack up --brokers 3 --redis-cluster 3`, private to this
module: three Kafka nodes (topics with three replicas, min.insync.replicas=2, the SDK producing
with acks=all) and a Redis Cluster of three primaries with one replica each, holding the
processor's state. In both scenarios traffic flows while the node dies; the pipeline must go
on without any worker being restarted, and afterwards the lake must hold every sent event once
after dedupe and metrics equal to the batch reference (`feedbackctl verify`). A third test holds
back one topic of a partition for less than the processor's idle timeout, as a slow broker does,
and checks that no metric count moves to a later window (the cause of a broker-kill failure).
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, METRICS
from stream_processors.redis_state import RedisStateWriter
from stream_processors.settings import ProcessorSettings
from tests.e2e.pipeline_harness import (
    PROCESSOR_TEST_ENV,
    Pipeline,
    PrivateStack,
    scenario_traffic,
    start_private_stack,
)
from tests.e2e.pipeline_harness.scenario import (
    ScenarioResult,
    outputs_flowing,
    run_scenario,
    wait_for,
)
from tests.e2e.pipeline_harness.workload import BackgroundProducer
from verification.lake_check import verify_lake

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.timeout(900)]

SESSIONS = 300
RATE = 150.0  # ~10 s of production: the fault lands in the middle of it
DOWN_S = 3.0  # after the killed broker's partitions have new leaders
# As in test_infrastructure_restarts: an idle input advances the watermark with the wall clock,
# so a stall of the inputs must stay well under abandon_after minus the generator's 30 s.
ABANDON_AFTER_S = 90


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    stack = start_private_stack(tmp_path_factory.mktemp("cluster-stack"), 3, 3)
    try:
        yield stack
    finally:
        stack.down(purge=True)


@pytest.fixture()
def pipeline(cluster_stack: PrivateStack, tmp_path: Path) -> Iterator[Pipeline]:
    pipeline = Pipeline(cluster_stack, tmp_path)
    try:
        yield pipeline
    finally:
        pipeline.stop_all()


def _leader_of(bootstrap: str, topic: str, partition: int) -> int:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return int(metadata.topics[topic].partitions[partition].leader)


def _replicas(bootstrap: str, topic: str) -> set[int]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return {len(p.replicas) for p in metadata.topics[topic].partitions.values()}


def _assert_whole(pipeline: Pipeline, result: ScenarioResult) -> None:
    """No worker exited or was restarted; nothing lost by the SDK; the lake equals the batch
    reference (reconciliation against what was sent ran in `run_scenario`)."""
    assert pipeline.restarted == [], pipeline.restarted
    assert all(runner.alive() for runner in pipeline.processors), pipeline.describe()
    for stats in result.produced.stats:
        assert stats.lost == 0 and stats.rejected == 0, stats
    env = {**PROCESSOR_TEST_ENV, **pipeline.event_time_env}
    timing = {k.removeprefix("FEEDBACK_PROCESSOR_").lower(): v for k, v in env.items()}
    settings = ProcessorSettings(namespace=pipeline.namespace, **timing)  # type: ignore[arg-type]
    verified = verify_lake(pipeline.lake, settings)
    assert verified.compared["enriched_interactions"] > SESSIONS
    assert verified.compared["quality_metrics"] > 0
    assert verified.ok, "\n".join(d.line() for d in verified.differences)


def test_a_broker_killed_under_traffic(pipeline: Pipeline) -> None:
    topic = INTERACTIONS.in_namespace(pipeline.namespace).name
    assert _replicas(pipeline.bootstrap, topic) == {3}
    fault: dict[str, object] = {}

    def kill_a_broker(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 90, "the first enriched records")
        victim = _leader_of(pipeline.bootstrap, topic, 0)
        fault["producing_when_killed"] = producer.running()
        pipeline.stack.kill_kafka_node(victim)
        # The controllers fence a silent broker after broker.session.timeout.ms (9 s) and
        # elect new leaders from the in-sync replicas; until then clients retry.
        wait_for(lambda: _leader_of(pipeline.bootstrap, topic, 0) != victim, 60, "a new leader")
        time.sleep(DOWN_S)
        pipeline.stack.start_kafka_node(victim)
        fault["producing_when_back"] = producer.running()

    config = scenario_traffic(SESSIONS, seed=221, abandon_after_s=ABANDON_AFTER_S)
    result = run_scenario(pipeline, config, kill_a_broker, rate=RATE)
    assert fault["producing_when_killed"], "the broker died after production had ended"
    _assert_whole(pipeline, result)


def test_a_redis_primary_killed_under_traffic(pipeline: Pipeline) -> None:
    """Two workers, so the finalizer also reads the other worker's partitions from Redis."""
    stack = pipeline.stack
    cluster = stack.stack.redis_cluster
    assert cluster is not None
    prefix = ProcessorSettings(namespace=pipeline.namespace).redis_prefix
    writer = RedisStateWriter(stack.redis_url, prefix)
    # The primary that holds partition 0's slot (its state and the finalizer's).
    node = writer.client.get_node_from_key(writer.layout.owner(0))
    victim = f"{node.host}:{node.port}"
    fault: dict[str, object] = {}

    def kill_a_primary(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 90, "the first enriched records")
        fault["producing_when_killed"] = producer.running()
        stack.kill_redis_node(victim)
        started = time.monotonic()

        # The survivors mark the primary failed after cluster-node-timeout (3 s), then its
        # replica is elected; until then its slots are unserved (cluster_state:fail).
        def taken_over() -> bool:
            roles = cluster.roles()
            primaries = [a for a, role in roles.items() if role == "master"]
            return len(primaries) == 3 and victim not in primaries and stack.redis_cluster_serving()

        wait_for(taken_over, 60, "a replica to take over")
        fault["failover_s"] = time.monotonic() - started
        stack.start_redis_node(victim)
        wait_for(stack.redis_cluster_healthy, 60, "the killed node to rejoin")

    config = scenario_traffic(SESSIONS, seed=222, abandon_after_s=ABANDON_AFTER_S)
    result = run_scenario(pipeline, config, kill_a_primary, rate=RATE, workers=2)
    assert fault["producing_when_killed"], "the primary died after production had ended"
    print(f"failover took {fault['failover_s']:.1f} s")
    roles = cluster.roles()
    assert roles[victim] == "slave", f"{victim} must come back as a replica: {roles}"
    assert list(roles.values()).count("master") == 3, roles
    _assert_whole(pipeline, result)


def _final_metrics(pipeline: Pipeline, windows: set[int], timeout_s: float) -> dict[int, Any]:
    """The final metrics records of `windows` (by window start), read from the metrics topic."""
    topic = METRICS.in_namespace(pipeline.namespace)
    decode = serializer_for(topic).decode
    consumer = Consumer(
        {
            "bootstrap.servers": pipeline.bootstrap,
            "group.id": f"finals-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    finals: dict[int, Any] = {}
    try:
        consumer.subscribe([topic.name])
        deadline = time.monotonic() + timeout_s
        while not windows <= set(finals) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            value = None if message is None or message.error() else message.value()
            if value is None:
                continue
            record = decode(value)
            if record["is_final"]:
                finals[record["window_start"]] = record
    finally:
        consumer.close()
    assert windows <= set(finals), f"final windows {sorted(finals)}, waiting for {windows}"
    return finals


def test_a_partitions_first_feedback_held_back_while_its_interactions_run_ahead(
    pipeline: Pipeline,
) -> None:
    """On a cluster the three topics of one partition have different leaders, so one of them can
    reach the worker later than the others (a slow broker, a leader election, a producer's
    queue for one broker). Event time here runs ten times as fast as the wall clock, as in the
    scenarios' traffic: turns of 13 s of event time in 1.3 s, the partition's first feedback
    (event time 8 s, in the first metrics window) held back 0.75 s, less than the idle timeout
    (1 s). Its thumbs-up must count in its own window: the feedback topic, empty until then,
    stopped holding the watermark back 1 s after the first turn, and the next window got it
    (the broker-kill scenario's difference with the batch reference, on a CI run)."""
    namespace = pipeline.namespace
    interactions = INTERACTIONS.in_namespace(namespace)
    feedback = FEEDBACK.in_namespace(namespace)
    pipeline.start_processor()
    pipeline.wait_ready()
    window_ms = 10_000
    start = (int(time.time() * 1000) // window_ms - 6) * window_ms  # a minute ago, a window start
    producer = Producer({"bootstrap.servers": pipeline.bootstrap, "linger.ms": 0, "acks": "all"})

    def send(spec: Any, record: dict[str, Any]) -> None:
        value = serializer_for(spec).encode(record)
        producer.produce(spec.name, value, record["session_id"].encode(), partition=0)
        assert producer.flush(30) == 0

    turns = []
    began = time.monotonic()
    for second in range(13):
        turn = {
            "event_id": str(uuid.uuid4()),
            "session_id": f"held-{second}-{uuid.uuid4().hex[:8]}",
            "turn_index": 0,
            "agent_id": "support-bot",
            "agent_version": "1.4.0",
            "model": "acme-llm-large",
            "event_time": start + second * 1000 + 500,
            "user_id": None,
            "prompt": "p",
            "response": "r",
            "reasoning": None,
            "tools_used": [],
            "context": {},
            "latency_ms": 100,
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "cost_usd": 0.0,
            "retry_of": None,
            "attachments": [],
        }
        send(interactions, turn)
        turns.append(turn)
        time.sleep(max(0.0, began + (second + 1) * 0.1 - time.monotonic()))
    time.sleep(max(0.0, began + 1.55 - time.monotonic()))  # sent at 0.8 s, held back until now
    rated = turns[7]
    send(
        feedback,
        {
            "event_id": str(uuid.uuid4()),
            "session_id": rated["session_id"],
            "interaction_id": rated["event_id"],
            "event_time": start + 8_000,
            "kind": "thumbs",
            "thumbs_up": True,
            "rating": None,
            "correction": None,
            "comment": None,
            "source": "end_user",
            "rater_id": None,
        },
    )
    finals = _final_metrics(pipeline, {start, start + window_ms}, timeout_s=120)
    first, second_window = finals[start], finals[start + window_ms]
    assert (first["interactions"], second_window["interactions"]) == (10, 3)
    assert (first["thumbs_up"], first["interactions_with_feedback"]) == (1, 1), first
    assert second_window["thumbs_up"] == 0, second_window
