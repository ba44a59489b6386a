"""Settings of the HTTP gateway (FEEDBACK_GATEWAY_* environment variables)."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaClientFields
from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["GATEWAY_ENV_PREFIX", "GatewaySettings", "default_keys_file", "default_spool_dir"]

GATEWAY_ENV_PREFIX = f"{ENV_PREFIX}GATEWAY_"


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


def default_spool_dir() -> Path:
    """Apart from the SDK's spool: the gateway replays only what it spooled itself."""
    return _state_home() / "agent-feedback-pipeline" / "gateway-spool"


def default_keys_file() -> Path:
    return _state_home() / "agent-feedback-pipeline" / "gateway-keys.json"


class GatewaySettings(ServiceSettings, KafkaClientFields):
    """Where the gateway listens, what it accepts, and how it stores what Kafka cannot take."""

    model_config = SettingsConfigDict(env_prefix=GATEWAY_ENV_PREFIX)

    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 in a container).")
    port: int = Field(8070, ge=0, le=65535, description="HTTP port.")
    topic_namespace: str = Field(
        "", description="Write to topics `<name>.<namespace>`; empty = the live topics."
    )
    keys_file: Path = Field(
        default_factory=default_keys_file,
        description="JSON file of API keys (SHA-256 hashes only), managed with "
        "`feedbackctl gateway keys`; re-read when it changes.",
    )
    rate_limit_events_per_s: float = Field(
        1000.0, gt=0, description="Events per second one API key may send (a key may override)."
    )
    rate_limit_burst: int = Field(
        5000, gt=0, description="Events one API key may send at once above its rate."
    )
    max_body_bytes: int = Field(
        5 * 1024 * 1024, gt=0, description="Largest request body (after decompression): 413 above."
    )
    max_events_per_request: int = Field(1000, gt=0, description="Largest batch: 413 above.")
    max_json_depth: int = Field(
        32, gt=2, description="Deepest nesting of arrays and objects in a request body."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, description="A client must send its whole body within this time (408)."
    )
    keepalive_timeout_s: float = Field(
        15.0, gt=0, description="An idle keep-alive connection is closed after this time."
    )
    ack_timeout_ms: int = Field(
        10_000,
        gt=0,
        description="librdkafka message.timeout.ms: an event Kafka has not acknowledged by "
        "then is spooled (and acknowledged from the spool).",
    )
    linger_ms: int = Field(5, ge=0, description="librdkafka linger.ms (adds to ack latency).")
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = "lz4"
    spool_dir: Path = Field(default_factory=default_spool_dir)
    spool_max_bytes: int = Field(
        1024**3, gt=0, description="When the spool holds this much, Kafka being down means 503."
    )
    replay_interval_s: float = Field(
        2.0, gt=0, description="How often Kafka is probed and the spool replayed while it waits."
    )
    retry_after_s: int = Field(5, gt=0, description="Retry-After of 503 answers.")
    max_text_bytes: int = Field(65_536, gt=0, description="As FEEDBACK_PRODUCER_MAX_TEXT_BYTES.")
    max_event_bytes: int = Field(
        1_000_000, gt=0, description="As FEEDBACK_PRODUCER_MAX_EVENT_BYTES."
    )
    max_future_skew_s: float = Field(
        300.0, ge=0, description="As FEEDBACK_PRODUCER_MAX_FUTURE_SKEW_S."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = Field(False, description="JSON log lines instead of plain text.")
