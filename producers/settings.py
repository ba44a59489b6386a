"""Settings of the producer SDK (FEEDBACK_PRODUCER_* environment variables)."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaClientFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)

__all__ = ["ENV_PREFIX_PRODUCER", "FailurePolicy", "ProducerSettings", "default_spool_dir"]

ENV_PREFIX_PRODUCER = f"{ENV_PREFIX}PRODUCER_"
FailurePolicy = Literal["spool", "raise"]


def default_spool_dir() -> Path:
    """Under XDG_STATE_HOME (~/.local/state): survives reboots, unlike /tmp."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "agent-feedback-pipeline" / "spool"


class ProducerSettings(ServiceSettings, KafkaClientFields):
    """How an agent's FeedbackClient talks to Kafka and what it does when it cannot."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX_PRODUCER)

    client_id: str = "feedback-producer"
    topic_namespace: str = Field(
        default="",
        description="Suffix for topic names (`agent.interactions.v1.<ns>`); empty = none.",
    )
    linger_ms: int = Field(
        default=20, ge=0, description="librdkafka linger.ms: wait to fill batches."
    )
    batch_size_bytes: int = Field(default=1_000_000, gt=0, description="librdkafka batch.size.")
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = "lz4"
    queue_max_messages: int = Field(
        default=100_000, gt=0, description="Local queue bound (messages)."
    )
    queue_max_kbytes: int = Field(default=131_072, gt=0, description="Local queue bound (KiB).")
    queue_full_timeout_s: float = Field(
        default=1.0, ge=0, description="How long a log_* call blocks when the local queue is full."
    )
    delivery_timeout_ms: int = Field(
        default=120_000,
        gt=0,
        description="librdkafka message.timeout.ms: give up (and spool) after it.",
    )
    close_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="close() waits this long for deliveries, then spools the rest.",
    )
    max_text_bytes: int = Field(
        default=65_536,
        gt=0,
        description="Largest UTF-8 size of one text field (prompt, response...).",
    )
    max_future_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="An event_time more than this ahead of this machine's clock is refused "
        "(a broken clock); the processor dead-letters such events as future_event_time.",
    )
    max_event_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="Largest encoded event; the broker's default limit is 1 MiB.",
    )
    failure_policy: FailurePolicy = Field(
        default="spool",
        description="spool: undeliverable events go to a local file, replayed later. "
        "raise: QueueFullError from log_*, DeliveryFailedError from flush()/close().",
    )
    spool_dir: Path = Field(default_factory=default_spool_dir)
    lake_uri: str = Field(
        default=DEFAULT_LAKE_URI,
        description="Lake root (local or mounted path) whose `<namespace>/attachments/` area "
        "receives attached files before the event is sent.",
    )
    replay_spool_on_start: bool = Field(
        default=True,
        description="Replay spool files left by earlier clients when the client starts.",
    )
