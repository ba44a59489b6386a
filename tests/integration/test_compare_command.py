"""`feedbackctl compare --publish` on a lake of generated traffic: the verdict is printed and the
same ReleaseImpact record arrives on the (namespaced) release-impact topic of the real Kafka."""

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas.serializer import serializer_for
from schemas.topics import RELEASE_IMPACT, TopicSpec
from tests.unit.curation.generated_lake import build_generated_lake
from tests.unit.curation.impact.traffic_sessions import release_config


def _read_one(bootstrap: str, topic: str, timeout_s: float = 30.0) -> dict:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex[:8]}"})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None and message.value():
                return serializer_for(RELEASE_IMPACT).decode(message.value())
        raise AssertionError(f"no ReleaseImpact on {topic}")
    finally:
        consumer.close()


def test_compare_prints_the_verdict_and_publishes_the_same_record(
    bootstrap_servers: str,
    unique_topics: Callable[..., TopicSpec],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake = tmp_path / "lake"
    build_generated_lake(lake, release_config(0.6, 0.8, 6_000, seed=17))
    topic = unique_topics(RELEASE_IMPACT)
    namespace = topic.name.removeprefix(RELEASE_IMPACT.name + ".")
    monkeypatch.setenv("FEEDBACK_COMPARE_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("FEEDBACK_COMPARE_TOPIC_NAMESPACE", namespace)
    args = ["compare", "--agent", "support-bot", "--baseline", "1.4.0", "--candidate", "1.5.0"]
    result = CliRunner().invoke(app, [*args, "--lake-uri", str(lake), "--publish", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output[: result.output.rindex("}") + 1])
    published = _read_one(bootstrap_servers, topic.name)
    assert published == printed
    assert published["verdict"] == "better" and published["primary_metric"] == "completion_rate"
    completion = next(m for m in published["metrics"] if m["metric"] == "completion_rate")
    assert 0 < completion["ci_low"] < completion["difference"] < completion["ci_high"]
    assert completion["baseline_sessions"] >= completion["sessions_needed"] > 0
    assert len(published["metrics"]) == 7
