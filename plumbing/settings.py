"""Base class for every service's settings: one environment prefix, unknown keys rejected."""

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "DEFAULT_LAKE_URI",
    "DEFAULT_REDIS_URL",
    "ENV_PREFIX",
    "ServiceSettings",
    "env_name",
]

ENV_PREFIX = "FEEDBACK_"
# Where `feedbackctl stack up` listens by default; every service's settings start from these.
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:16379/0"
DEFAULT_LAKE_URI = "lake"


def env_name(prefix: str, field: str) -> str:
    """The environment variable that sets `field` of a settings class with `prefix`."""
    return f"{prefix}{field}".upper()


class ServiceSettings(BaseSettings):
    """Settings read from FEEDBACK_* environment variables; subclasses narrow the prefix."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )
