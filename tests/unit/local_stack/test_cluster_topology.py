"""The three-broker / Redis Cluster shape of the stack: ports, URLs and broker settings."""

from pathlib import Path

import pytest

from local_stack import LocalStack, StackSettings
from local_stack.kafka_node import _server_properties


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_a_cluster_gets_consecutive_ports_and_a_cluster_url(tmp_path: Path) -> None:
    settings = StackSettings(
        state_dir=tmp_path, kafka_port=29092, kafka_controller_port=29093, redis_port=17001,
        brokers=3, redis_cluster=3,
    )  # fmt: skip
    assert settings.bootstrap_servers == "127.0.0.1:29092,127.0.0.1:29094,127.0.0.1:29096"
    assert settings.controller_ports == [29093, 29095, 29097]
    assert settings.redis_ports == list(range(17001, 17007))  # 3 primaries, 3 replicas
    assert settings.redis_url.startswith("redis+cluster://127.0.0.1:17001,127.0.0.1:17002,")
    assert settings.replication_factor == 3


def test_the_single_node_stack_is_unchanged(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.redis_url == "redis://127.0.0.1:16379/0"
    props = _properties(_server_properties(settings, tmp_path / "data"))
    assert props["controlled.shutdown.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "controller.quorum.voters" not in props


def test_each_broker_of_three_votes_and_replicates_three_times(tmp_path: Path) -> None:
    settings = StackSettings(
        state_dir=tmp_path, kafka_port=29092, kafka_controller_port=29093, brokers=3
    )
    props = _properties(_server_properties(settings, tmp_path / "data", node_id=2))
    assert props["node.id"] == "2"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29094,CONTROLLER://127.0.0.1:29095"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:29093,2@127.0.0.1:29095,3@127.0.0.1:29097"
    )
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["controlled.shutdown.enable"] == "true"
    assert props["unclean.leader.election.enable"] == "false"


@pytest.mark.parametrize("primaries", [1, 2])
def test_a_redis_cluster_needs_three_primaries(primaries: int) -> None:
    with pytest.raises(ValueError, match="at least 3 primaries"):
        StackSettings(redis_cluster=primaries)


def test_status_and_down_find_the_shape_the_stack_was_started_with(tmp_path: Path) -> None:
    started = LocalStack(StackSettings(state_dir=tmp_path, brokers=3, redis_cluster=3))
    started._record_topology()
    found = LocalStack.recorded(StackSettings(state_dir=tmp_path))
    assert [n.name for n in found.kafka_nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert len(found.redis_nodes) == 6
    assert found.clustered
