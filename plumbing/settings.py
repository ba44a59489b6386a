"""Base class for every service's settings: one environment prefix, unknown keys rejected, and
the pipeline-wide defaults every service shares.

Where the pipeline runs is said once for all services: `FEEDBACK_NAMESPACE`,
`FEEDBACK_BOOTSTRAP_SERVERS` and `FEEDBACK_REDIS_URL` (`SHARED_VARIABLES`) fill the fields
`namespace` / `topic_namespace` / `lake_prefix`, `bootstrap_servers` and `redis_url` of every
settings class that has them. A service's own variable (`FEEDBACK_SINK_BOOTSTRAP_SERVERS`) and
an explicit argument still win: the shared source sits below both.
"""

import os
from collections.abc import Callable
from typing import Any

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from plumbing.environment import ENV_PREFIX, check_environment, register_settings

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "DEFAULT_LAKE_URI",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_REDIS_URL",
    "ENV_PREFIX",
    "SHARED_VARIABLES",
    "ServiceSettings",
    "env_name",
    "set_fallback_namespace",
    "shared_values",
]

# Where `feedbackctl stack up` listens by default; every service's settings start from these.
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:16379/0"
DEFAULT_LAKE_URI = "lake"
# Endpoints listen on loopback unless told otherwise: /metrics tells anyone who can reach it about
# topics, partitions and rates, and a container sets 0.0.0.0 on purpose (the image does).
DEFAULT_METRICS_HOST = "127.0.0.1"


# The pipeline-wide variables and the fields they fill (`lake_prefix` is `<namespace>/`).
SHARED_VARIABLES: dict[str, tuple[str, ...]] = {
    f"{ENV_PREFIX}NAMESPACE": ("namespace", "topic_namespace", "lake_prefix"),
    f"{ENV_PREFIX}BOOTSTRAP_SERVERS": ("bootstrap_servers",),
    f"{ENV_PREFIX}REDIS_URL": ("redis_url",),
}


class _Fallback:
    """A namespace to use when nothing else names one (the CLI's last demo), said once."""

    namespace: str | None = None
    announce: Callable[[str], None] | None = None


def set_fallback_namespace(
    namespace: str | None, announce: Callable[[str], None] | None = None
) -> None:
    """Below FEEDBACK_NAMESPACE: `namespace` for settings that are given none; `announce` is
    called with it (once) when a settings class actually takes it."""
    _Fallback.namespace, _Fallback.announce = namespace, announce


def shared_values(fields: set[str] | None = None) -> dict[str, Any]:
    """The shared variables' values for the given fields (all fields when None)."""
    values: dict[str, Any] = {}
    namespace = os.environ.get(f"{ENV_PREFIX}NAMESPACE", _Fallback.namespace)
    for variable, names in SHARED_VARIABLES.items():
        value = namespace if names[0] == "namespace" else os.environ.get(variable)
        if value is None:
            continue
        for name in names:
            if fields is None or name in fields:
                values[name] = f"{value}/" if name == "lake_prefix" and value else value
    return values


class _SharedDefaultsSource(PydanticBaseSettingsSource):
    """The shared variables, for fields that no argument and no service variable set."""

    def __init__(self, settings_cls: type[BaseSettings], *overriding: Any) -> None:
        super().__init__(settings_cls)
        self._overriding = overriding

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ answers for all fields at once

    def __call__(self) -> dict[str, Any]:
        values = shared_values(set(self.settings_cls.model_fields))
        if not values:
            return values
        taken: set[str] = set()
        for source in self._overriding:
            taken |= {key.lower() for key in source()}
        values = {k: v for k, v in values.items() if k not in taken}
        fallback, announce = _Fallback.namespace, _Fallback.announce
        uses_fallback = os.environ.get(f"{ENV_PREFIX}NAMESPACE") is None and fallback is not None
        if (
            uses_fallback
            and announce is not None
            and any(name in values for name in SHARED_VARIABLES[f"{ENV_PREFIX}NAMESPACE"])
        ):
            _Fallback.announce = None  # once
            announce(fallback or "")
        return values


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
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, then the pipeline-wide variables below the service's own."""
        shared = _SharedDefaultsSource(settings_cls, init_settings, env_settings)
        return init_settings, env_settings, dotenv_settings, file_secret_settings, shared

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
