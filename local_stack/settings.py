"""Where the local stack lives and listens (FEEDBACK_STACK_* environment variables).

One Kafka node and one Redis by default. `brokers=3` runs three Kafka nodes (each a broker and a
voter of the controller quorum) on consecutive port pairs from `kafka_port` /
`kafka_controller_port` (node i: `kafka_port + 2*(i-1)`, `kafka_controller_port + 2*(i-1)`);
`redis_cluster=3` runs a Redis Cluster of three primaries with `redis_replicas` replicas each on
consecutive ports from `redis_port` (each node's cluster bus is its port + 10000).
"""

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from local_stack.replication import replication_factor_for
from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["StackSettings"]


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "agent-feedback-pipeline"


class StackSettings(ServiceSettings):
    """Ports, versions and directories of the local Kafka and Redis."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}STACK_")

    state_dir: Path = Path(".stack")
    cache_dir: Path = _default_cache_dir()
    host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_version: str = "4.1.1"
    log4j_version: str = "2.24.3"
    kafka_heap: str = "512m"
    # The broker's own loggers (kafka.*, org.apache.kafka.*) in server.log; INFO shows log
    # loading, truncation and leadership changes (to investigate a run), at some MB per minute.
    kafka_log_level: str = "WARN"
    brokers: int = Field(1, ge=1, le=9)
    redis_port: int = 16379
    # 0: one plain redis-server; n >= 3: a Redis Cluster of n primaries (Redis needs three).
    redis_cluster: int = Field(0, ge=0, le=9)
    redis_replicas: int = Field(1, ge=0, le=2)
    redis_server: str = "redis-server"
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0

    @model_validator(mode="after")
    def _cluster_sizes(self) -> "StackSettings":
        if self.redis_cluster in (1, 2):
            raise ValueError(
                "redis_cluster: a Redis Cluster needs at least 3 primaries (0 = one plain Redis)"
            )
        return self

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host}:{port}" for port in self.broker_ports)

    @property
    def broker_ports(self) -> list[int]:
        return [self.kafka_port + 2 * i for i in range(self.brokers)]

    @property
    def controller_ports(self) -> list[int]:
        return [self.kafka_controller_port + 2 * i for i in range(self.brokers)]

    @property
    def redis_ports(self) -> list[int]:
        count = self.redis_cluster * (1 + self.redis_replicas) if self.redis_cluster else 1
        return [self.redis_port + i for i in range(count)]

    @property
    def replication_factor(self) -> int:
        """Of every topic the stack creates: one per broker, at most three."""
        return replication_factor_for(self.brokers)

    @property
    def redis_url(self) -> str:
        if self.redis_cluster:
            nodes = ",".join(f"{self.host}:{port}" for port in self.redis_ports)
            return f"redis+cluster://{nodes}"
        return f"redis://{self.host}:{self.redis_port}/0"
