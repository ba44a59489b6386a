"""Where the local stack lives and listens (FEEDBACK_STACK_* environment variables)."""

from pathlib import Path

from pydantic_settings import SettingsConfigDict

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
    redis_port: int = 16379
    redis_server: str = "redis-server"
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"
