"""Producers that are not the Python SDK (docs/producer.md, "Partitioning"): a Java agent whose
turns go through Kafka's own Java producer while its users' feedback comes through the gateway,
and a client that keeps librdkafka's default partitioner (CRC-32 of the key).

The sessions are picked where the two partitioners disagree, so each test fails when a
producer of the pipeline partitions as librdkafka does by default: until 7 Dec the SDK and the
gateway did, and a Java agent's feedback went to another partition than its turns.
"""

import base64
import subprocess
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from gateway.keys import KeyFile
from local_stack.maven import kafka_classpath
from local_stack.settings import StackSettings
from producers import FeedbackClient
from schemas.partitioning import partition_for
from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS
from tests.e2e.pipeline_harness import Pipeline
from tests.e2e.pipeline_harness.workload import producer_settings
from tests.e2e.test_real_world_timing import (
    _assert_equal_to_the_reference,
    _every_turn_joined,
    _log_readme_turn,
)
from tests.integration.gateway.process import start_gateway
from tests.unit.sinks.events import feedback, interaction

JAVA_AGENT = Path(__file__).parent / "java_agent" / "JavaAgentProducer.java"
PARTITIONS = INTERACTIONS.partitions
MISPLACED = "by Kafka's default partitioning (murmur2), not"  # the worker's warning


def _where_partitioners_disagree(prefix: str) -> str:
    """A session id that librdkafka's default (CRC-32) puts on another partition than Kafka's
    default (murmur2)."""
    while True:
        session_id = f"{prefix}-{uuid.uuid4().hex}"
        key = session_id.encode()
        if zlib.crc32(key) % PARTITIONS != partition_for(key, PARTITIONS):
            return session_id


def _send_from_java(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> list[int]:
    """Send (topic, key, value) records with Kafka's Java producer (its default partitioner);
    returns the partition of each."""
    settings = StackSettings()
    classpath = kafka_classpath(settings.cache_dir, settings.kafka_version, settings.log4j_version)
    lines = "".join(
        f"{topic}\t{base64.b64encode(key).decode()}\t{base64.b64encode(value).decode()}\n"
        for topic, key, value in records
    )
    done = subprocess.run(
        ["java", "-cp", classpath, str(JAVA_AGENT), bootstrap],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    placed = [line.split("\t") for line in done.stdout.splitlines() if line.strip()]
    assert [topic for topic, _, _ in placed] == [topic for topic, _, _ in records]
    return [int(partition) for _, partition, _ in placed]


def test_a_java_agents_turns_meet_the_feedback_sent_through_the_gateway(
    pipeline: Pipeline,
) -> None:
    """A Java agent logs two turns per session with Kafka's Java producer; the user's browser
    posts a thumbs-up on the first and marks the task completed through the gateway. Every turn
    must be joined: completed, two turns, the thumbs on the first turn only, and the lake equal
    to the batch reference. With the gateway on librdkafka's default partitioner the thumbs and
    the completion went to another partition: dead-lettered `too_late`, sessions abandoned."""
    pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    keys = KeyFile(pipeline.work_dir / "gateway" / "keys.json")
    browser_key = keys.add("web-client")[1]
    gateway = start_gateway(pipeline.work_dir / "gateway", pipeline.bootstrap, pipeline.namespace)
    topic = INTERACTIONS.in_namespace(pipeline.namespace).name
    encode = serializer_for(INTERACTIONS.in_namespace(pipeline.namespace)).encode
    sessions: dict[str, list[str]] = {
        _where_partitioners_disagree("java-agent"): [] for _ in range(6)
    }
    now = int(time.time() * 1000)
    records: list[tuple[str, bytes, bytes]] = []
    for session_id, turns in sessions.items():
        for turn_index in range(2):
            record = interaction(session_id, turn_index, None, now + turn_index * 1_000)
            turns.append(record["event_id"])
            records.append((topic, session_id.encode(), encode(record)))
    placed = _send_from_java(pipeline.bootstrap, records)
    # Kafka's Java producer put each turn where `schemas.partitioning` says.
    assert placed == [partition_for(key, PARTITIONS) for _, key, _ in records]
    try:
        for session_id, turns in sessions.items():
            for path, body in (
                (
                    "/v1/feedback",
                    {"interaction_id": turns[0], "kind": "thumbs", "thumbs_up": True},
                ),
                (
                    "/v1/signals",
                    {"interaction_id": turns[1], "kind": "task_completed", "source": "client"},
                ),
            ):
                event = {"session_id": session_id, "event_time": now + 2_000, **body}
                answer = gateway.post(path, event, browser_key)
                assert answer.status_code < 300, answer.text
    finally:
        gateway.stop()
    all_turns = {turn for turns in sessions.values() for turn in turns}
    latest = _every_turn_joined(pipeline, all_turns)
    for turns in sessions.values():
        for index, turn in enumerate(turns):
            record = latest[turn]
            assert (record["session_outcome"], record["session_turns"]) == ("completed", 2)
            shown = [(f["thumbs_up"], f["session_level"]) for f in record["feedback"]]
            assert shown == ([(True, False)] if index == 0 else []), turn
    _assert_equal_to_the_reference(pipeline, len(all_turns))
    assert MISPLACED not in _processor_log(pipeline)


def test_feedback_from_a_client_on_librdkafkas_default_partitioner_is_reported(
    pipeline: Pipeline,
) -> None:
    """The agent logs turns through the SDK; a client written on librdkafka without setting
    its partitioner (confluent-kafka-go, node-rdkafka, kcat) sends the thumbs. They land on
    another partition, where no turn of the session ever comes: each is dead-lettered
    `too_late`, and the dead letter says which partition its key belongs to; the worker logs
    the misplaced session. Nothing is lost, and the operator is told what to fix."""
    overrides = {"FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "5"}
    pipeline.start_processor(overrides)
    pipeline.start_sink()
    pipeline.wait_ready()
    client = FeedbackClient(
        producer_settings(pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir),
        registry=CollectorRegistry(),
    )
    feedback_topic = FEEDBACK.in_namespace(pipeline.namespace)
    encode = serializer_for(feedback_topic).encode
    other_client = Producer({"bootstrap.servers": pipeline.bootstrap, "acks": "all"})
    thumbs: dict[str, str] = {}  # event id -> session id
    with client:
        for _ in range(3):
            session_id = _where_partitioners_disagree("crc-client")
            turn = _log_readme_turn(client, session_id)
            record = feedback(session_id, turn, int(time.time() * 1000))
            thumbs[record["event_id"]] = session_id
            value = encode(record)
            other_client.produce(feedback_topic.name, value, session_id.encode())
    assert other_client.flush(30) == 0

    def dead_letters() -> list[dict[str, Any]]:
        if not pipeline.lake.exists("dead_letters"):
            return []
        rows = pipeline.lake.open("dead_letters").to_pyarrow_table().to_pylist()
        return [r for r in rows if r["source_topic"] == feedback_topic.name]

    pipeline.wait_until(lambda: len(dead_letters()) >= len(thumbs), 120, "the thumbs refused")
    letters = dead_letters()
    assert {r["reason"] for r in letters} == {"too_late"}
    for letter in letters:
        session_id = letter["key"].decode()
        assert session_id in thumbs.values()
        expected = partition_for(session_id.encode(), PARTITIONS)
        assert letter["source_partition"] == zlib.crc32(session_id.encode()) % PARTITIONS
        assert (
            f"its key maps to partition {expected} by Kafka's default partitioning"
            in letter["message"]
        ), letter["message"]
    pipeline.wait_until(lambda: MISPLACED in _processor_log(pipeline), 30, "the warning")


def _processor_log(pipeline: Pipeline) -> str:
    return "".join(
        path.read_text(errors="replace") for path in sorted(pipeline.log_dir.glob("processor-*"))
    )
