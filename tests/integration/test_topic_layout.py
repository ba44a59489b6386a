"""Input topics created by another tool with another partition count than the registry's: the
processor refuses to start, and `feedbackctl topics create` says what is wrong (Kafka Streams
refuses a co-partitioning mismatch the same way). A worker joins a session on one partition
number of the three input topics: with 3 feedback partitions and 6 interaction partitions, the
feedback of half the sessions could never meet their turns."""

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from feedbackctl.main import app
from local_stack.topics import ensure_topics, partition_count_problems
from schemas.topics import FEEDBACK, INPUT_TOPICS, TOPICS


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    """A namespace whose topics are deleted afterwards."""
    name = f"layout-{uuid.uuid4().hex[:8]}"
    yield name
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    ours = [t for t in admin.list_topics(timeout=30).topics if t.endswith(f".{name}")]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def _create_by_hand(bootstrap_servers: str, namespace: str, feedback_partitions: int) -> None:
    """The input topics as another tool creates them: the feedback topic with its own count."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    topics = [
        NewTopic(
            spec.in_namespace(namespace).name,
            feedback_partitions if spec.name == FEEDBACK.name else spec.partitions,
            1,
        )
        for spec in INPUT_TOPICS
    ]
    for future in admin.create_topics(topics).values():
        future.result(timeout=30)


def test_the_processor_refuses_input_topics_that_are_not_co_partitioned(
    bootstrap_servers: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_by_hand(bootstrap_servers, namespace, feedback_partitions=3)
    monkeypatch.setenv("FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS", bootstrap_servers)
    result = CliRunner().invoke(app, ["process", "--namespace", namespace, "--no-create-topics"])
    assert result.exit_code == 1, result.output
    feedback = FEEDBACK.in_namespace(namespace).name
    assert f"{feedback} has 3 partitions; the registry (schemas.topics) gives it 6" in (
        result.output
    )
    assert "co-partitioned" in result.output

    monkeypatch.setenv("FEEDBACK_TOPICS_BOOTSTRAP_SERVERS", bootstrap_servers)
    result = CliRunner().invoke(app, ["topics", "create", "--namespace", namespace])
    assert result.exit_code == 1, result.output
    assert f"{feedback}: exists, but {feedback} has 3 partitions" in result.output


def test_topics_created_from_the_registry_pass(bootstrap_servers: str, namespace: str) -> None:
    specs = [spec.in_namespace(namespace) for spec in TOPICS]
    ensure_topics(bootstrap_servers, specs)
    assert partition_count_problems(bootstrap_servers, specs) == {}
