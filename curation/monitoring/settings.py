"""Settings of `feedbackctl monitor` (FEEDBACK_MONITOR_* environment variables)."""

from pydantic_settings import SettingsConfigDict

from curation.monitoring.rules import MonitorRules
from plumbing.settings import (
    DEFAULT_BOOTSTRAP_SERVERS,
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)
from schemas.topics import ALERTS

__all__ = ["MONITOR_ENV_PREFIX", "MonitorSettings"]

MONITOR_ENV_PREFIX = f"{ENV_PREFIX}MONITOR_"


class MonitorSettings(ServiceSettings, MonitorRules):
    """Where the monitor reads and publishes; every MonitorRules field is settable the same way."""

    model_config = SettingsConfigDict(env_prefix=MONITOR_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    lake_prefix: str = ""
    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    alerts_topic: str = ALERTS.name

    def rules(self, **overrides: object) -> MonitorRules:
        """The rules these settings give, with CLI overrides (None = keep)."""
        values = self.model_dump(include=set(MonitorRules.model_fields))
        values.update({key: value for key, value in overrides.items() if value is not None})
        return MonitorRules(**values)
