"""Settings of `feedbackctl monitor` (FEEDBACK_MONITOR_* environment variables)."""

from typing import TypeVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from curation.monitoring.live_rules import LiveRules
from curation.monitoring.rules import MonitorRules
from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import DEFAULT_LAKE_URI, ENV_PREFIX, ServiceSettings
from schemas.topics import ALERTS, METRICS, TopicSpec, topic_by_name

__all__ = ["MONITOR_ENV_PREFIX", "MonitorSettings"]

MONITOR_ENV_PREFIX = f"{ENV_PREFIX}MONITOR_"
R = TypeVar("R", LiveRules, MonitorRules)


class MonitorSettings(ServiceSettings, MonitorRules, LiveRules, KafkaConnectionFields):
    """Where the monitor reads and publishes; every MonitorRules (lake checks) and LiveRules
    (`monitor follow`) field is settable the same way."""

    model_config = SettingsConfigDict(env_prefix=MONITOR_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    lake_prefix: str = ""
    alerts_topic: str = ALERTS.name
    metrics_topic: str = METRICS.name
    namespace: str = ""
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Prometheus /metrics of `monitor follow` (0: none)."
    )

    def topics(self) -> tuple[TopicSpec, TopicSpec]:
        """(metrics, alerts) topics, in the namespace when one is set."""
        if self.namespace:
            return METRICS.in_namespace(self.namespace), ALERTS.in_namespace(self.namespace)
        return topic_by_name(self.metrics_topic), topic_by_name(self.alerts_topic)

    def live_rules(self, **overrides: object) -> LiveRules:
        """The live rules these settings give, with CLI overrides (None = keep)."""
        return self._pick(LiveRules, overrides)

    def rules(self, **overrides: object) -> MonitorRules:
        """The rules these settings give, with CLI overrides (None = keep)."""
        return self._pick(MonitorRules, overrides)

    def _pick(self, model: type[R], overrides: dict[str, object]) -> R:
        values = self.model_dump(include=set(model.model_fields))
        values.update({key: value for key, value in overrides.items() if value is not None})
        return model(**values)
