"""`feedbackctl verify` on a real lake: generator traffic through a real processor worker and
the real Delta sink, then the batch reference must find no difference."""

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas.serializer import serializer_for
from schemas.topics import DEADLETTER, FEEDBACK, INTERACTIONS, SIGNALS
from sinks import DeltaSink, SinkSettings
from sinks.lake import Lake
from sinks.lake_reader import read_table
from stream_processors.settings import ProcessorSettings
from tests.integration.test_processor_support import (
    WORKER_ENV,
    Worker,
    namespace_for,
    traffic_config,
    wait_for_settled,
    wait_until,
)
from tests.unit.verification.factory import Events
from verification.lake_check import verify_lake

CONFIG = traffic_config(sessions=80, seed=31)
_SPECS = {"interaction": INTERACTIONS, "feedback": FEEDBACK, "signal": SIGNALS}


def test_the_lake_of_a_real_run_matches_the_reference(
    bootstrap_servers: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_ENV.items():  # the reference uses the worker's timing rules
        monkeypatch.setenv(name, value)
    lake_dir = tmp_path / "lake"
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        worker = Worker(namespace, tmp_path / "worker.log")
        try:
            produced = namespace.produce(CONFIG)
            wait_for_settled(namespace, produced, worker)
        finally:
            worker.stop()
        sink = _run_sink(bootstrap_servers, lake_dir, namespace.name)
        result = verify_lake(Lake.from_settings(sink), ProcessorSettings())
        assert result.compared["enriched_interactions"] > 100
        assert result.compared["quality_metrics"] > 10
        assert result.compared["dead_letters"] > 5
        assert result.compared["inferred signals"] > 0
        assert result.ok, "\n".join(d.line() for d in result.differences)

        output = CliRunner().invoke(
            app, ["verify", "--namespace", namespace.name, "--lake-dir", str(lake_dir)]
        )
        assert output.exit_code == 0, output.output
        assert "no differences" in output.output

        # After an erasure the erased sessions' raw events are gone; the rest still matches,
        # and the metric windows (which keep the erased user's counts) are not compared.
        users = read_table(
            "enriched_interactions", columns=["user_id"], lake=Lake.from_settings(sink)
        )
        user = Counter(u for u in users["user_id"].to_pylist() if u).most_common(1)[0][0]
        erase = ["lake", "erase", "--user-id", user, "--namespace", namespace.name]
        erased = CliRunner().invoke(app, [*erase, "--lake-uri", str(lake_dir)])
        assert erased.exit_code == 0, erased.output
        after = verify_lake(Lake.from_settings(sink), ProcessorSettings())
        assert after.ok, "\n".join(d.line() for d in after.differences)
        assert "quality_metrics" in after.skipped and "quality_metrics" not in after.compared
        assert after.compared["enriched_interactions"] < result.compared["enriched_interactions"]


def _edge_cases() -> list[dict[str, Any]]:
    """Sessions at the contract's boundaries (timings of WORKER_ENV: abandon 35 s, grace 120 s,
    windows of 10 s), in event-time order."""
    abandon, grace = 35_000, 120_000
    ev = Events()
    tie = ev.turn("tie", 0)
    ev.feedback("tie", 0, interaction_id=tie["event_id"])
    ev.signal("tie", 0, "task_completed")
    ev.signal("tie", 1, "task_failed")  # a second close: too_late
    ev.turn("abandon", 0)
    ev.turn("abandon", 20_000, turn_index=1)
    ev.turn("abandon", 20_000 + abandon, turn_index=2)  # at the close: the id used again
    graced = ev.turn("grace", 0)
    ev.signal("grace", 1_000, "task_completed")
    ev.feedback("grace", 1_000 + grace, interaction_id=graced["event_id"], thumbs_up=False)
    ev.feedback("grace", 1_001 + grace, interaction_id=graced["event_id"])  # too_late
    ev.turn("reuse", 0)
    ev.signal("reuse", 1_000, "task_completed")
    ev.turn("reuse", 1_001 + grace, agent_version="2.0")  # a new session under the same id
    ev.turn("reserved", 0)
    ev.signal("reserved", 500, "task_completed", source="inferred")  # reserved_source
    ev.feedback("early", 0)  # before any turn: too_late
    ev.turn("early", 10)
    ev.signal("early", 2_000, "task_completed")
    ev.turn("coverage", 0)
    ev.feedback("coverage", 5_000, thumbs_up=False)  # covers turn 0 in its window [0, 10 s)
    ev.turn("coverage", 15_000, turn_index=1)
    ev.signal("coverage", 16_000, "task_failed")
    future = ev.turn("future", 0)
    future["event_time"] = int(time.time() * 1000) + 3_600_000  # future_event_time
    # A host whose clock runs 10 minutes fast stamps its Kafka records with it too: the broker's
    # append time is what the worker and the reference check it against (future_event_time).
    fast_host = ev.turn("fast-host", 0)
    fast_host["event_time"] = int(time.time() * 1000) + 600_000
    ev.events[-1]["producer_timestamp"] = fast_host["event_time"]
    return sorted(ev.events, key=lambda e: (e["record"]["event_time"], e["kind"] != "interaction"))


def test_edge_cases_through_a_real_run_match_the_reference(
    bootstrap_servers: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    events = _edge_cases()
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        producer = Producer({"bootstrap.servers": bootstrap_servers})
        for event in events:
            spec = _SPECS[event["kind"]]
            value = serializer_for(spec).encode(event["record"])
            producer.produce(
                namespace.topic(spec),
                value,
                event["record"]["session_id"].encode(),
                timestamp=event.get("producer_timestamp", 0),  # 0: the producer's clock
            )
        assert producer.flush(30) == 0
        now_ms = time.time() * 1000
        settle = max(t for e in events if (t := e["record"]["event_time"]) < now_ms) + 45_000
        worker = Worker(namespace, tmp_path / "worker.log")
        deadletters = namespace.topic(DEADLETTER)
        try:
            wait_until(
                lambda: (namespace.finalized_until() or 0) > settle, 150, "final metrics", worker
            )
            # Feedback that precedes every turn of its session waits for one until the session's
            # grace period ends (120 s of event time after its close), then is dead-lettered.
            wait_until(
                lambda: _messages_in(bootstrap_servers, deadletters) >= 6,
                240,
                "the waiting feedback's dead letter",
                worker,
            )
            time.sleep(1.0)
        finally:
            worker.stop()
        sink = _run_sink(bootstrap_servers, tmp_path / "lake", namespace.name)
        result = verify_lake(Lake.from_settings(sink), ProcessorSettings())
    assert result.compared["dead_letters"] == 6
    assert result.ok, "\n".join(d.line() for d in result.differences)


def _messages_in(bootstrap_servers: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "verify-count"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()


def _run_sink(bootstrap_servers: str, lake_dir: Path, namespace: str) -> SinkSettings:
    sink = SinkSettings(
        bootstrap_servers=bootstrap_servers,
        lake_uri=str(lake_dir),
        namespace=namespace,
        group_id=f"verify-{namespace}",
        flush_latency_s=0.5,
    )
    DeltaSink(sink).run(exit_when_idle_s=3.0)
    return sink
