"""Base class for every service's settings: one environment prefix, unknown keys rejected."""

from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from plumbing.environment import ENV_PREFIX, check_environment, register_settings

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "DEFAULT_LAKE_URI",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_REDIS_URL",
    "ENV_PREFIX",
    "ServiceSettings",
    "env_name",
]

# Where `feedbackctl stack up` listens by default; every service's settings start from these.
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:16379/0"
DEFAULT_LAKE_URI = "lake"
# Endpoints listen on loopback unless told otherwise: /metrics tells anyone who can reach it about
# topics, partitions and rates, and a container sets 0.0.0.0 on purpose (the image does).
DEFAULT_METRICS_HOST = "127.0.0.1"


def env_name(prefix: str, field: str) -> str:
    """The environment variable that sets `field` of a settings class with `prefix`."""
    return f"{prefix}{field}".upper()


class ServiceSettings(BaseSettings):
    """Settings read from FEEDBACK_* environment variables; subclasses narrow the prefix.

    `extra="forbid"` only refuses unknown keyword arguments: pydantic-settings ignores unknown
    environment variables. So each subclass registers its variables (`plumbing.environment`)
    and loading it refuses any variable under its prefix that names no field.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    # Here rather than in each service's class: every service serving /metrics on a port of its
    # own (`metrics_port`) binds it here; services without one ignore it.
    metrics_host: str = Field(
        DEFAULT_METRICS_HOST,
        description="Interface the process's metrics/HTTP endpoints bind (0.0.0.0: every "
        "interface, e.g. in a container).",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        register_settings(str(cls.model_config.get("env_prefix", "")), cls.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_variables(cls, values: Any) -> Any:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        if prefix.startswith(ENV_PREFIX):  # never the whole environment
            check_environment(prefixes=(prefix,))
        return values
