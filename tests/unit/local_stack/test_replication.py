"""How many replicas a topic gets and how many must hold a write, by cluster size."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedbackctl.topics_commands import TopicsSettings
from local_stack import StackSettings
from local_stack.kafka_node import _server_properties
from local_stack.replication import min_insync_replicas, replication_factor_for
from local_stack.topics import topic_config
from schemas.topics import DEADLETTER, METRICS, TOPICS


@pytest.mark.parametrize(
    ("brokers", "replicas", "in_sync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2), (9, 3, 2)]
)
def test_replicas_follow_the_broker_count_up_to_three(
    brokers: int, replicas: int, in_sync: int
) -> None:
    assert replication_factor_for(brokers) == replicas
    assert min_insync_replicas(replicas) == in_sync


@given(st.integers(min_value=1, max_value=50))
def test_one_broker_down_never_stops_acks_all_writes(brokers: int) -> None:
    replicas = replication_factor_for(brokers)
    assert 1 <= replicas <= min(3, brokers)
    in_sync = min_insync_replicas(replicas)
    assert 1 <= in_sync <= replicas
    assert replicas == 1 or in_sync == replicas - 1


@pytest.mark.parametrize("spec", [METRICS, DEADLETTER, *TOPICS])
def test_every_topic_is_created_with_its_min_insync_replicas(spec) -> None:
    config = topic_config(spec, 3)
    assert config["min.insync.replicas"] == "2"
    assert config["retention.ms"] == str(spec.retention_ms)
    assert topic_config(spec, 1)["min.insync.replicas"] == "1"


@pytest.mark.parametrize("brokers", [1, 2, 3])
def test_the_brokers_defaults_match_the_topics(tmp_path: Path, brokers: int) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_port=29092, brokers=brokers)
    props = dict(
        line.split("=", 1)
        for line in _server_properties(settings, tmp_path / "data").splitlines()
        if line
    )
    replicas = replication_factor_for(brokers)
    assert settings.replication_factor == replicas
    assert props["default.replication.factor"] == str(replicas)
    assert props["min.insync.replicas"] == str(min_insync_replicas(replicas))
    assert props["transaction.state.log.min.isr"] == str(min_insync_replicas(replicas))


def test_topics_create_takes_the_replicas_from_the_cluster_unless_told() -> None:
    assert TopicsSettings().replication_factor is None
    assert TopicsSettings(replication_factor=2).replication_factor == 2
