"""`feedbackctl topics create` (the compose file's one-shot `topics` service) on the real broker."""

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas.topics import TOPICS


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    ns = f"test-topics-{uuid.uuid4().hex[:10]}"
    yield ns
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    names = [spec.in_namespace(ns).name for spec in TOPICS]
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def test_creates_every_registered_topic_once(bootstrap_servers: str, namespace: str) -> None:
    arguments = ["topics", "create", "--bootstrap-servers", bootstrap_servers, "--namespace"]
    first = CliRunner().invoke(app, [*arguments, namespace])
    assert first.exit_code == 0, first.output
    assert first.output.count(": created") == len(TOPICS)

    topics = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10).topics
    for spec in TOPICS:
        name = spec.in_namespace(namespace).name
        assert len(topics[name].partitions) == spec.partitions, name

    again = CliRunner().invoke(app, [*arguments, namespace])
    assert again.exit_code == 0, again.output
    assert again.output.count(": exists") == len(TOPICS)
