"""A dedicated Kafka + Redis on free ports, so scenarios may stop and restart them at will.

`start_private_stack(..., brokers=3, redis_cluster=3)` starts the replicated shape (three
Kafka nodes, a Redis Cluster of three primaries and three replicas) for the cluster faults.
"""

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from local_stack import LocalStack, StackSettings
from schemas.topics import TopicSpec
from tests.ports import bindable, free_port

__all__ = [
    "PrivateStack",
    "free_port",
    "free_port_run",
    "private_ports",
    "start_private_stack",
]


def free_port_run(count: int, attempts: int = 50) -> int:
    """The first of `count` consecutive ports nothing listens on (nor their +10000, a Redis
    Cluster's bus ports), below the kernel's ephemeral range: a client that keeps connecting
    to a killed node's port in that range can end up connected to itself (TCP simultaneous
    open on loopback) and hold the port, and the node could not listen on it again."""
    for _ in range(attempts):
        first = random.randrange(20000, 22000)
        ports = [*range(first, first + count), *range(first + 10000, first + 10000 + count)]
        if all(bindable(port) for port in ports):
            return first
    raise AssertionError(f"no run of {count} free ports found")


@dataclass
class PrivateStack:
    """A `LocalStack` of our own; its data survives restarts until `down()`."""

    stack: LocalStack

    @property
    def bootstrap_servers(self) -> str:
        return self.stack.settings.bootstrap_servers

    @property
    def redis_url(self) -> str:
        return self.stack.settings.redis_url

    def restart_kafka(self, down_s: float) -> float:
        """Stop the broker (SIGTERM, SIGKILL after the stop timeout), wait, start it, wait for
        health. Returns how long the broker was unreachable, in seconds."""
        stopped = time.monotonic()
        self.stack.kafka.process.stop(self.stack.settings.stop_timeout_s)
        time.sleep(down_s)
        self.stack.kafka.start()
        _wait(self.stack.kafka.healthy, self.stack.settings.start_timeout_s, "kafka")
        return time.monotonic() - stopped

    def restart_redis(self, down_s: float) -> float:
        """Stop Redis (SIGTERM: it writes its AOF and exits), wait, start it again."""
        stopped = time.monotonic()
        self.stack.redis.process.stop(self.stack.settings.stop_timeout_s)
        time.sleep(down_s)
        self.stack.redis.start()
        _wait(self.stack.redis.healthy, self.stack.settings.start_timeout_s, "redis")
        return time.monotonic() - stopped

    def kill_kafka_node(self, node_id: int) -> None:
        """kill -9 one broker of a cluster: no controlled shutdown, no flushed logs."""
        assert self.stack.kafka_nodes[node_id - 1].process.kill(), f"kafka-{node_id} not running"

    def start_kafka_node(self, node_id: int) -> None:
        node = self.stack.kafka_nodes[node_id - 1]
        node.start()

        def healthy() -> bool:
            if node.process.exited_early():
                raise AssertionError(f"{node.name} exited:\n{node.process.log_tail()}")
            return node.healthy()

        _wait(healthy, self.stack.settings.start_timeout_s, node.name)

    def kill_redis_node(self, address: str) -> None:
        """kill -9 one node of the Redis Cluster."""
        node = next(n for n in self.stack.redis_nodes if n.address == address)
        assert node.process.kill(), f"{node.name} was not running"

    def start_redis_node(self, address: str) -> None:
        """Start a killed Redis Cluster node again: it rejoins (a replica if it was failed over)."""
        node = next(n for n in self.stack.redis_nodes if n.address == address)
        node.start()
        _wait(node.healthy, self.stack.settings.start_timeout_s, node.name)

    def redis_cluster_healthy(self) -> bool:
        """Every node is up and the cluster serves every slot."""
        cluster = self.stack.redis_cluster
        return cluster is not None and cluster.healthy()

    def redis_cluster_serving(self) -> bool:
        """Every slot has a live primary (nodes may be down)."""
        cluster = self.stack.redis_cluster
        return cluster is not None and cluster.serving()

    def wait_partitions_created(self, specs: Iterable[TopicSpec], timeout_s: float = 60.0) -> None:
        """Until the broker has created the log of every partition of `specs`.

        Metadata names a leader before the broker has created the partition's log; an idempotent
        producer writing in that gap lost its first batch in our runs (docs/reliability.md), so
        scenarios start producing only once every log directory exists.
        """
        data_dir = self.stack.kafka.data_dir
        wanted = [data_dir / f"{spec.name}-{p}" for spec in specs for p in range(spec.partitions)]
        deadline = time.monotonic() + timeout_s
        while not all(path.is_dir() for path in wanted):
            if time.monotonic() > deadline:
                missing = [path.name for path in wanted if not path.is_dir()]
                raise AssertionError(f"the broker did not create {missing[:5]} in {timeout_s}s")
            time.sleep(0.2)
        time.sleep(0.5)  # the directory appears as the log is created; let the leader settle

    def down(self, purge: bool = True) -> None:
        self.stack.down(purge=purge, say=lambda _msg: None)


def private_ports(brokers: int = 1, redis_cluster: int = 0) -> tuple[int, int, int]:
    """Kafka, controller and Redis ports of a private stack: one run of free ports below the
    ephemeral range (`free_port_run`), a single node's too. A kernel-chosen port lies in that
    range, where a broker restarted on it met "Address already in use" (docs/reliability.md,
    Findings)."""
    redis_nodes = 2 * redis_cluster if redis_cluster else 1  # a primary and a replica each
    first = free_port_run(2 * brokers + redis_nodes)
    return first, first + 1, first + 2 * brokers


def start_private_stack(state_dir: Path, brokers: int = 1, redis_cluster: int = 0) -> PrivateStack:
    """Start Kafka (KRaft) and Redis under `state_dir` on ports nobody else uses."""
    kafka_port, controller_port, redis_port = private_ports(brokers, redis_cluster)
    settings = StackSettings(
        state_dir=state_dir,
        brokers=brokers,
        redis_cluster=redis_cluster,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        redis_port=redis_port,
        kafka_heap="384m",
        start_timeout_s=120.0,
    )
    stack = LocalStack(settings)
    try:
        stack.up(say=lambda _msg: None)
    except BaseException:
        stack.down(purge=True, say=lambda _msg: None)
        raise
    return PrivateStack(stack)


def _wait(check: object, timeout_s: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} was not healthy {timeout_s:.0f}s after its restart")
