"""On a three-broker Kafka (the shape of `feedbackctl stack up --brokers 3`) every topic a
component creates gets three replicas and `min.insync.replicas=2` set on the topic itself: the
stack's registry topics, `feedbackctl topics create`, the processor's own topics, a replay's
namespace topics and the CLI's --create-topics path (`ensure_topics`)."""

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource
from typer.testing import CliRunner

from feedbackctl.main import app
from local_stack.topics import ensure_topics
from replay.publisher import prepare_namespace_topics
from schemas.topics import INPUT_TOPICS, TOPICS
from stream_processors.app import internal_topics
from stream_processors.settings import ProcessorSettings
from tests.e2e.pipeline_harness.private_stack import PrivateStack, start_private_stack


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """Three Kafka nodes of this module's own (a plain Redis beside them)."""
    stack = start_private_stack(tmp_path_factory.mktemp("three-brokers"), brokers=3)
    try:
        yield stack
    finally:
        stack.down()


def _replication(bootstrap_servers: str, names: list[str]) -> dict[str, tuple[set[int], str]]:
    """Per topic: the replica counts of its partitions, and its min.insync.replicas if it is set
    on the topic (not inherited from the brokers' default)."""
    with AdminClient({"bootstrap.servers": bootstrap_servers}) as admin:
        metadata = admin.list_topics(timeout=30).topics
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
        configs = {
            resource.name: future.result(timeout=30)
            for resource, future in admin.describe_configs(resources).items()
        }
    result = {}
    for name in names:
        entry = configs[name]["min.insync.replicas"]
        topic_level = entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        counts = {len(p.replicas) for p in metadata[name].partitions.values()}
        result[name] = (counts, entry.value if topic_level else "(broker default)")
    return result


def _assert_three_replicas_two_in_sync(bootstrap_servers: str, names: list[str]) -> None:
    assert names
    found = _replication(bootstrap_servers, names)
    assert found == {name: ({3}, "2") for name in names}


def test_the_stacks_own_topics(cluster: PrivateStack) -> None:
    _assert_three_replicas_two_in_sync(cluster.bootstrap_servers, [s.name for s in TOPICS])


def test_topics_create_command(cluster: PrivateStack) -> None:
    namespace = f"cli{uuid.uuid4().hex[:8]}"
    run = CliRunner().invoke(
        app,
        ["topics", "create", "--bootstrap-servers", cluster.bootstrap_servers, "--namespace",
         namespace],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    names = [spec.in_namespace(namespace).name for spec in TOPICS]
    _assert_three_replicas_two_in_sync(cluster.bootstrap_servers, names)


def test_the_processors_own_topics(cluster: PrivateStack) -> None:
    settings = ProcessorSettings(
        namespace=f"proc{uuid.uuid4().hex[:8]}", bootstrap_servers=cluster.bootstrap_servers
    )
    specs = internal_topics(settings)
    ensure_topics(cluster.bootstrap_servers, specs)  # as the worker does before it starts
    _assert_three_replicas_two_in_sync(cluster.bootstrap_servers, [s.name for s in specs])


def test_a_replays_namespace_topics(cluster: PrivateStack) -> None:
    targets = prepare_namespace_topics(cluster.bootstrap_servers, f"re{uuid.uuid4().hex[:8]}")
    assert len(targets) == len(INPUT_TOPICS)
    _assert_three_replicas_two_in_sync(cluster.bootstrap_servers, [s.name for s in targets])


def test_a_single_node_keeps_one_replica(bootstrap_servers: str) -> None:
    """The shared single-node stack: one replica, one in sync (set on the topic too)."""
    namespace = f"one{uuid.uuid4().hex[:8]}"
    specs = [spec.in_namespace(namespace) for spec in INPUT_TOPICS[:1]]
    ensure_topics(bootstrap_servers, specs)
    try:
        found = _replication(bootstrap_servers, [specs[0].name])
        assert found == {specs[0].name: ({1}, "1")}
    finally:
        with AdminClient({"bootstrap.servers": bootstrap_servers}) as admin:
            for future in admin.delete_topics([specs[0].name]).values():
                future.result(timeout=30)
