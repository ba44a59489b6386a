"""Brings the local Kafka and Redis up and down together, and reports their health."""

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from local_stack.exceptions import StackError
from local_stack.kafka_node import KafkaNode
from local_stack.processes import port_is_free
from local_stack.redis_node import RedisNode
from local_stack.settings import StackSettings
from local_stack.topics import ensure_topics

__all__ = ["LocalStack", "ServiceStatus"]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    healthy: bool


class LocalStack:
    """The two services every other component of the project talks to."""

    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        self.kafka = KafkaNode(self.settings)
        self.redis = RedisNode(self.settings)

    def status(self) -> list[ServiceStatus]:
        kafka_pid, redis_pid = self.kafka.process.pid, self.redis.process.pid
        return [
            ServiceStatus(
                "kafka",
                self.kafka.address,
                kafka_pid,
                kafka_pid is not None and self.kafka.healthy(),
            ),
            ServiceStatus(
                "redis",
                self.redis.address,
                redis_pid,
                redis_pid is not None and self.redis.healthy(),
            ),
        ]

    def up(self, say: Callable[[str], None] = print) -> bool:
        """Start what is not running, wait for health, create the topics.

        Returns False when everything was already running (a no-op).
        """
        kafka_running = self.kafka.process.pid is not None
        redis_running = self.redis.process.pid is not None
        if kafka_running and redis_running:
            say("stack already running: nothing to do")
            ensure_topics(self.settings.bootstrap_servers)
            return False
        self._check_prerequisites(kafka_running, redis_running)
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        if not redis_running:
            say(f"starting redis on {self.redis.address}")
            self.redis.start()
        if not kafka_running:
            say(f"starting kafka {self.settings.kafka_version} (KRaft) on {self.kafka.address}")
            self.kafka.start()
        self._wait_healthy()
        created = ensure_topics(self.settings.bootstrap_servers)
        if created:
            say(f"created topics: {', '.join(sorted(created))}")
        return True

    def down(self, purge: bool = False, say: Callable[[str], None] = print) -> None:
        """Stop both services (SIGTERM, then SIGKILL after a timeout); purge deletes their data."""
        for name, process in (("kafka", self.kafka.process), ("redis", self.redis.process)):
            if process.stop(self.settings.stop_timeout_s):
                say(f"stopped {name}")
            else:
                say(f"{name} was not running")
        if purge and self.settings.state_dir.exists():
            shutil.rmtree(self.settings.state_dir)
            say(f"removed {self.settings.state_dir}")

    def _check_prerequisites(self, kafka_running: bool, redis_running: bool) -> None:
        missing = []
        if not kafka_running and shutil.which("java") is None:
            missing.append("java (Java 17+; Debian: apt-get install -y openjdk-17-jre-headless)")
        if not redis_running and shutil.which(self.settings.redis_server) is None:
            missing.append(
                f"{self.settings.redis_server} (Debian: apt-get install -y redis-server)"
            )
        if missing:
            raise StackError("missing prerequisites: " + "; ".join(missing))
        host = self.settings.host
        ports = []
        if not kafka_running:
            ports += [
                ("FEEDBACK_STACK_KAFKA_PORT", self.settings.kafka_port),
                ("FEEDBACK_STACK_KAFKA_CONTROLLER_PORT", self.settings.kafka_controller_port),
            ]
        if not redis_running:
            ports.append(("FEEDBACK_STACK_REDIS_PORT", self.settings.redis_port))
        for variable, port in ports:
            if not port_is_free(host, port):
                raise StackError(
                    f"port {host}:{port} is already taken by another program; "
                    f"stop it or choose another port with {variable}"
                )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        nodes: list[KafkaNode | RedisNode] = [self.kafka, self.redis]
        while time.monotonic() < deadline:
            for node in nodes:
                if node.process.exited_early():
                    raise StackError(
                        f"{node.process.name} exited during start-up; last lines of "
                        f"{node.process.log_file}:\n{node.process.log_tail()}"
                    )
            if all(node.healthy() for node in nodes):
                return
            time.sleep(0.5)
        raise StackError(
            f"the stack was not healthy within {self.settings.start_timeout_s:.0f}s; "
            f"see {self.kafka.process.log_file} and {self.redis.process.log_file}"
        )
