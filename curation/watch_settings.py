"""Settings of `feedbackctl curate watch` (FEEDBACK_WATCH_* environment variables); the
curation options themselves stay FEEDBACK_CURATION_*."""

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)

__all__ = ["WATCH_ENV_PREFIX", "WatchSettings"]

WATCH_ENV_PREFIX = f"{ENV_PREFIX}WATCH_"


class WatchSettings(ServiceSettings, KafkaConnectionFields):
    """When to build a dataset version, where it goes and whom to tell."""

    model_config = SettingsConfigDict(env_prefix=WATCH_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    lake_prefix: str = ""
    output_root: str = "out/datasets"
    topic_namespace: str = ""  # DatasetReady goes to agent.datasets.v1[.<namespace>]
    kind: Literal["sft", "preferences"] = "sft"
    every_examples: int | None = Field(
        default=1000, ge=1, description="Publish once an agent has this many new rows."
    )
    every_seconds: float | None = Field(
        default=None, gt=0, description="Publish an agent's new rows at least this often."
    )
    agents: list[str] = Field(
        default_factory=list, description="agent_ids the rules apply to (empty: every agent)."
    )
    poll_seconds: float = Field(default=30.0, gt=0, description="How often the lake is checked.")
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_attempts: int = Field(default=5, ge=1)
    webhook_backoff_s: float = Field(default=0.5, ge=0)
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve Prometheus /metrics here (None or 0: off)."
    )

    @model_validator(mode="after")
    def _a_rule_and_a_secret(self) -> "WatchSettings":
        if self.every_examples is None and self.every_seconds is None:
            raise ValueError("set every_examples, every_seconds or both: no rule, no dataset")
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("a webhook_url needs a webhook_secret to sign its requests")
        return self
