"""Settings of `feedbackctl compare` (FEEDBACK_COMPARE_* environment variables)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)

__all__ = ["COMPARE_ENV_PREFIX", "CompareSettings"]

COMPARE_ENV_PREFIX = f"{ENV_PREFIX}COMPARE_"


class CompareSettings(ServiceSettings, KafkaConnectionFields):
    """Where compare reads sessions and publishes ReleaseImpact records, and its statistics."""

    model_config = SettingsConfigDict(env_prefix=COMPARE_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    lake_prefix: str = ""
    topic_namespace: str = ""  # ReleaseImpact goes to agent.release_impact.v1[.<namespace>]
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="Interval level.")
    power: float = Field(default=0.8, gt=0, lt=1, description="Power the sample is planned for.")
    primary_metric: str = "completion_rate"
