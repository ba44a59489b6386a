"""Brings the local Kafka and Redis up and down together, and reports their health.

One Kafka node and one Redis by default; with `brokers=3` / `redis_cluster=3` (`feedbackctl
stack up --brokers 3 --redis-cluster 3`) a three-node Kafka cluster and a Redis Cluster. The
shape a state directory was started with is written to its `topology.json`, so `status` and
`down` find every node of it without the flags.
"""

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from local_stack.exceptions import StackError
from local_stack.kafka_node import KafkaNode, new_cluster_id
from local_stack.processes import ServiceProcess, port_is_free
from local_stack.redis_cluster import RedisCluster
from local_stack.redis_node import RedisNode
from local_stack.settings import StackSettings
from local_stack.topics import ensure_topics

__all__ = ["LocalStack", "ServiceStatus"]

_TOPOLOGY_FIELDS = (
    "brokers",
    "redis_cluster",
    "redis_replicas",
    "kafka_port",
    "kafka_controller_port",
    "redis_port",
)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    healthy: bool
    role: str = ""


class LocalStack:
    """The services every other component of the project talks to."""

    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        cluster_id = self._cluster_id()
        self.kafka_nodes = [
            KafkaNode(self.settings, node_id=i + 1, cluster_id=cluster_id)
            for i in range(self.settings.brokers)
        ]
        self.redis_cluster = RedisCluster(self.settings) if self.settings.redis_cluster else None
        self.redis_nodes = (
            self.redis_cluster.nodes if self.redis_cluster else [RedisNode(self.settings)]
        )
        # The single-node stack's two services (on a cluster: the first node of each).
        self.kafka = self.kafka_nodes[0]
        self.redis = self.redis_nodes[0]

    @classmethod
    def recorded(cls, settings: StackSettings | None = None) -> "LocalStack":
        """The stack of `settings.state_dir` in the shape it was started with (topology.json),
        or as `settings` say when it was never started."""
        settings = settings or StackSettings()
        path = settings.state_dir / "topology.json"
        if path.exists():
            recorded = json.loads(path.read_text())
            known = {k: v for k, v in recorded.items() if k in _TOPOLOGY_FIELDS}
            settings = settings.model_copy(update=known)
        return cls(settings)

    @property
    def clustered(self) -> bool:
        return self.settings.brokers > 1 or self.settings.redis_cluster > 0

    def _cluster_id(self) -> str | None:
        if self.settings.brokers == 1:
            return None
        path = self.settings.state_dir / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def _services(self) -> list[tuple[str, str, ServiceProcess, Callable[[], bool]]]:
        services: list[tuple[str, str, ServiceProcess, Callable[[], bool]]] = []
        for kafka in self.kafka_nodes:
            services.append((kafka.name, kafka.address, kafka.process, kafka.healthy))
        for redis in self.redis_nodes:
            services.append((redis.name, redis.address, redis.process, redis.healthy))
        return services

    def status(self) -> list[ServiceStatus]:
        roles = self.redis_cluster.roles() if self.redis_cluster else {}
        cluster_ok = self.redis_cluster.healthy() if self.redis_cluster else True
        statuses = []
        for name, address, process, healthy in self._services():
            pid = process.pid
            ok = pid is not None and healthy()
            if name.startswith("redis") and self.redis_cluster is not None:
                ok = ok and cluster_ok
            role = {"master": "primary", "slave": "replica"}.get(roles.get(address, ""), "")
            statuses.append(ServiceStatus(name, address, pid, ok, role))
        return statuses

    def up(self, say: Callable[[str], None] = print) -> bool:
        """Start what is not running, wait for health, create the topics.

        Returns False when everything was already running (a no-op).
        """
        self._check_topology()
        kafka_stopped = [n for n in self.kafka_nodes if n.process.pid is None]
        redis_stopped = [n for n in self.redis_nodes if n.process.pid is None]
        replicas = self.settings.replication_factor
        if not kafka_stopped and not redis_stopped:
            say("stack already running: nothing to do")
            ensure_topics(self.settings.bootstrap_servers, replication_factor=replicas)
            return False
        self._check_prerequisites(kafka_stopped, redis_stopped)
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self._record_topology()
        for node in redis_stopped:
            say(f"starting {node.name} on {node.address}")
            node.start()
        for kafka in kafka_stopped:
            say(f"starting {kafka.name} {self.settings.kafka_version} (KRaft) on {kafka.address}")
            kafka.start()
        self._wait_healthy()
        if self.redis_cluster is not None and not self.redis_cluster.created():
            say(f"creating the Redis Cluster of {len(self.redis_nodes)} nodes")
            self.redis_cluster.create()
        self._wait_healthy()
        created = ensure_topics(self.settings.bootstrap_servers, replication_factor=replicas)
        if created:
            say(f"created topics: {', '.join(sorted(created))}")
        return True

    def down(self, purge: bool = False, say: Callable[[str], None] = print) -> None:
        """Stop every service (SIGTERM, then SIGKILL after a timeout); purge deletes their data.

        Kafka nodes stop one at a time (a controlled shutdown hands leadership to the others).
        """
        for name, _, process, _ in self._services():
            if process.stop(self.settings.stop_timeout_s):
                say(f"stopped {name}")
            else:
                say(f"{name} was not running")
        if purge and self.settings.state_dir.exists():
            shutil.rmtree(self.settings.state_dir)
            say(f"removed {self.settings.state_dir}")

    def _check_topology(self) -> None:
        path = self.settings.state_dir / "topology.json"
        if not path.exists():
            return
        recorded = json.loads(path.read_text())
        wanted = self._topology()
        differs = {k for k in ("brokers", "redis_cluster") if recorded.get(k) != wanted[k]}
        if differs:
            raise StackError(
                f"the stack in {self.settings.state_dir} was started with "
                f"{recorded.get('brokers')} broker(s) and redis_cluster="
                f"{recorded.get('redis_cluster')}; stop it (`stack down --purge` deletes its "
                "data) or choose another FEEDBACK_STACK_STATE_DIR"
            )

    def _topology(self) -> dict[str, int]:
        return {name: getattr(self.settings, name) for name in _TOPOLOGY_FIELDS}

    def _record_topology(self) -> None:
        if self.clustered or (self.settings.state_dir / "topology.json").exists():
            path = self.settings.state_dir / "topology.json"
            path.write_text(json.dumps(self._topology(), indent=2) + "\n")

    def _check_prerequisites(
        self, kafka_stopped: Sequence[KafkaNode], redis_stopped: Sequence[RedisNode]
    ) -> None:
        missing = []
        if kafka_stopped and shutil.which("java") is None:
            missing.append("java (Java 17+; Debian: apt-get install -y openjdk-17-jre-headless)")
        if redis_stopped and shutil.which(self.settings.redis_server) is None:
            missing.append(
                f"{self.settings.redis_server} (Debian: apt-get install -y redis-server)"
            )
        if redis_stopped and self.redis_cluster is not None and shutil.which("redis-cli") is None:
            missing.append("redis-cli (Debian: apt-get install -y redis-tools)")
        if missing:
            raise StackError("missing prerequisites: " + "; ".join(missing))
        host = self.settings.host
        ports = []
        for kafka in kafka_stopped:
            index = kafka.node_id - 1
            ports += [
                ("FEEDBACK_STACK_KAFKA_PORT", self.settings.broker_ports[index]),
                ("FEEDBACK_STACK_KAFKA_CONTROLLER_PORT", self.settings.controller_ports[index]),
            ]
        for node in redis_stopped:
            ports.append(("FEEDBACK_STACK_REDIS_PORT", node.port))
            if self.redis_cluster is not None:
                ports.append(("FEEDBACK_STACK_REDIS_PORT", node.port + 10000))  # cluster bus
        for variable, port in ports:
            if not port_is_free(host, port):
                raise StackError(
                    f"port {host}:{port} is already taken by another program; "
                    f"stop it or choose another port with {variable}"
                )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        services = self._services()
        while time.monotonic() < deadline:
            for name, _, process, _ in services:
                if process.exited_early():
                    raise StackError(
                        f"{name} exited during start-up; last lines of "
                        f"{process.log_file}:\n{process.log_tail()}"
                    )
            if all(healthy() for *_, healthy in services) and self._cluster_ready():
                return
            time.sleep(0.5)
        logs = ", ".join(str(process.log_file) for _, _, process, _ in services)
        raise StackError(
            f"the stack was not healthy within {self.settings.start_timeout_s:.0f}s; see {logs}"
        )

    def _cluster_ready(self) -> bool:
        """A created Redis Cluster serves every slot (a new one is created after the wait)."""
        cluster = self.redis_cluster
        return cluster is None or not cluster.created() or cluster.healthy()
