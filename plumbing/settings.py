"""Base class for every service's settings: one environment prefix, unknown keys rejected."""

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "ServiceSettings", "env_name"]

ENV_PREFIX = "FEEDBACK_"


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
