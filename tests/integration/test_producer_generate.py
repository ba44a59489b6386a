"""`feedbackctl generate` into Kafka: every event lands; good ones decode, broken ones do not."""

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from feedbackctl.main import app
from producers.traffic import TrafficConfig, generate_traffic
from schemas.exceptions import ContractError
from schemas.serializer import serializer_for
from schemas.topics import INPUT_TOPICS

UNDECODABLE = {"undecodable", "unknown_fingerprint", "wrong_schema"}


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    """A namespace whose input topics the command creates; deleted after the test."""
    name = f"test-gen-{uuid.uuid4().hex[:8]}"
    yield name
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    names = [spec.in_namespace(name).name for spec in INPUT_TOPICS]
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def test_generate_into_kafka(
    bootstrap_servers: str, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spool = tmp_path_factory.mktemp("spool")
    result = CliRunner().invoke(
        app,
        [
            "generate",
            *("--sessions", "40", "--seed", "9", "--bad-share", "0.05"),
            *("--namespace", namespace, "--bootstrap-servers", bootstrap_servers),
        ],
        env={"FEEDBACK_PRODUCER_SPOOL_DIR": str(spool)},
    )
    assert result.exit_code == 0, result.output
    assert "spooled 0" in result.output

    expected = Counter()
    bad = Counter()
    for event in generate_traffic(
        TrafficConfig(sessions=40, seed=9, bad_record_share=0.05)
    ).events():
        expected[event.topic.in_namespace(namespace).name] += 1
        if event.bad_reason in UNDECODABLE:
            bad[event.topic.in_namespace(namespace).name] += 1
    assert sum(bad.values()) > 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"test-gen-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        for spec in INPUT_TOPICS:
            topic = spec.in_namespace(namespace)
            partitions = [TopicPartition(topic.name, p, 0) for p in range(topic.partitions)]
            held = sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions)
            assert held == expected[topic.name], topic.name
            consumer.assign(partitions)
            serializer = serializer_for(topic)
            good = undecodable = 0
            for _ in range(200):
                if good + undecodable == held:
                    break
                for message in consumer.consume(500, timeout=0.2):
                    try:
                        serializer.decode(message.value())
                        good += 1
                    except ContractError:
                        undecodable += 1
            # schema_invalid, missing_key and oversized bad records decode; the others must not.
            assert (good + undecodable, undecodable) == (held, bad[topic.name])
    finally:
        consumer.close()
