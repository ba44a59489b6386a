"""Settings of replay commands (FEEDBACK_REPLAY_* environment variables)."""

from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)

__all__ = ["ReplaySettings"]


class ReplaySettings(ServiceSettings, KafkaConnectionFields):
    """Where to read from and write to, and how long to wait for the broker."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}REPLAY_")

    lake_uri: str = DEFAULT_LAKE_URI
    batch_size: int = 5000
    timeout_s: float = 600.0
    max_message_bytes: int = 16 * 1024 * 1024
