"""Settings of the live dashboard (FEEDBACK_DASHBOARD_* environment variables)."""

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from dashboard.state import DEFAULT_RANGE, RANGES
from plumbing.kafka_settings import KafkaClientFields
from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["DASHBOARD_ENV_PREFIX", "DashboardSettings"]

DASHBOARD_ENV_PREFIX = f"{ENV_PREFIX}DASHBOARD_"


class DashboardSettings(ServiceSettings, KafkaClientFields):
    """Where the dashboard listens, which topics it reads, and how far back it looks."""

    model_config = SettingsConfigDict(env_prefix=DASHBOARD_ENV_PREFIX)

    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 in a container).")
    port: int = Field(8050, ge=0, le=65535, description="HTTP port of the page, API and /metrics.")
    namespace: str = Field(
        "", description="Replay namespace: read topics `<name>.<namespace>`; empty = live topics."
    )
    group_id: str = Field(
        "feedback-dashboard",
        description="Consumer group id. The dashboard assigns every partition to itself and "
        "commits nothing, so replicas never split the data between them.",
    )
    lookback_s: float = Field(
        24 * 3600.0,
        gt=0,
        description="How much EVENT time the dashboard keeps, back from the newest metric window "
        "(the range `all` shows all of it).",
    )
    default_range: str = Field(
        DEFAULT_RANGE,
        description=f"Range the page opens with: one of {', '.join(RANGES)}.",
    )
    backfill_messages: int = Field(
        20_000,
        ge=0,
        description="On start, also re-read at least this many of the newest messages of each "
        "partition, whatever their Kafka timestamps say (covers event-time timestamps).",
    )
    push_interval_s: float = Field(
        1.0, gt=0, description="How often the event stream checks for changes to push."
    )
    max_alerts: int = Field(100, gt=0, description="Alerts kept (newest first).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("default_range")
    @classmethod
    def _known_range(cls, value: str) -> str:
        if value not in RANGES:
            raise ValueError(f"unknown range {value!r}: one of {', '.join(RANGES)}")
        return value

    log_json: bool = Field(False, description="JSON log lines instead of plain text.")
