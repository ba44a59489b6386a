"""Settings of the stream processor (FEEDBACK_PROCESSOR_* environment variables)."""

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    DEFAULT_REDIS_URL,
    ENV_PREFIX,
    ServiceSettings,
)
from stream_processors.redis_connection import client_options, split_password

__all__ = ["PROCESSOR_ENV_PREFIX", "ProcessorSettings"]

PROCESSOR_ENV_PREFIX = f"{ENV_PREFIX}PROCESSOR_"


class ProcessorSettings(ServiceSettings, KafkaConnectionFields):
    """Timeouts, windows and addresses of a processor worker; all times are event time unless
    the name says wall clock."""

    model_config = SettingsConfigDict(env_prefix=PROCESSOR_ENV_PREFIX)

    redis_url: str = Field(
        DEFAULT_REDIS_URL,
        description="redis://host:port/db, or rediss://host:port/db for TLS. A password in the "
        "URL is moved to redis_password when the settings load.",
    )
    redis_username: str | None = Field(None, description="Redis ACL user (AUTH username).")
    redis_password: SecretStr | None = Field(None, description="Redis AUTH password.")
    redis_ssl_ca_certs: Path | None = Field(
        None,
        description="PEM file of the CA that signed Redis's certificate (rediss://); "
        "unset: the system's CAs.",
    )
    redis_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM) for a Redis that checks clients' ones."
    )
    redis_ssl_keyfile: Path | None = Field(None, description="Client private key (PEM).")
    namespace: str = Field(
        "",
        description="Replay namespace: input and output topics `<name>.<namespace>`, its own "
        "consumer group, Faust app id and Redis key prefix.",
    )
    app_id: str = Field("feedback-processor", description="Faust app id (consumer group).")
    abandon_after_s: float = Field(
        600.0, gt=0, description="Event-time inactivity after which a session is abandoned."
    )
    feedback_grace_s: float = Field(
        21600.0, ge=0, description="How long after a session closed feedback still revises it."
    )
    feedback_lead_s: float = Field(
        60.0,
        ge=0,
        description="Feedback and terminal signals may be stamped this long before the turn "
        "they name (a client's clock behind the agent's): they wait for that turn (at most the "
        "grace).",
    )
    max_session_turns: int = Field(
        1000,
        ge=1,
        description="The most turns one session holds: the next turn closes it with outcome "
        "`unknown` and begins a new session under the same id (an agent that uses one session "
        "id for everyone is never quiet, so its session would never close).",
    )
    allowed_lateness_ms: int = Field(
        1000, ge=0, description="Watermark = max event time seen - allowed lateness."
    )
    idle_timeout_s: float = Field(
        3.0,
        gt=0,
        description="Wall clock without records after which an input partition counts as idle; "
        "an idle partition's watermark then advances with the wall clock.",
    )
    max_future_skew_s: float = Field(
        300.0,
        ge=0,
        description="An event whose event_time is more than this after the moment it was sent "
        "(its Kafka timestamp, or the worker's clock if earlier) is dead-lettered as "
        "future_event_time and never moves a watermark.",
    )
    metrics_window_s: int = Field(60, gt=0, description="Tumbling metrics window size.")
    metrics_window_grace_s: float = Field(
        10.0,
        ge=0,
        description="Event time a window stays open after the watermark passed its end: an "
        "event that reaches the worker after the watermark passed it (a client's clock behind "
        "the others') still counts in its own window within this; the window's final record "
        "waits as long.",
    )
    metrics_update_interval_s: float = Field(
        0.2,
        gt=0,
        description="Wall clock between running (non-final) updates of one window: at most "
        "1/interval records per second per open window, each waiting up to this long "
        "(docs/performance.md, event-to-metric latency).",
    )
    latency_sample_size: int = Field(
        512, gt=0, description="Latency values kept per window (bottom-k by event_id hash)."
    )
    max_value_bytes: int = Field(
        512 * 1024, gt=0, description="Input values larger than this are dead-lettered."
    )
    dead_letter_max_bytes: int = Field(
        64 * 1024, gt=0, description="Original bytes kept in a dead letter."
    )
    batch_max_events: int = Field(
        5000, gt=0, description="At most this many records per fetch, i.e. per processing step."
    )
    fetch_max_wait_ms: int = Field(
        50,
        gt=0,
        description="How long the broker may hold a fetch for data (aiokafka's "
        "fetch_max_wait_ms; Faust's 1,500 stalled every partition behind sparse ones).",
    )
    checkpoint_interval_s: float = Field(
        0.5,
        ge=0,
        description="Wall clock between checkpoints (outputs acknowledged, state and input "
        "offsets written to Redis in one transaction); a crash re-runs at most this much.",
    )
    tick_interval_s: float = Field(
        0.2, gt=0, description="Wall clock between timer ticks (idle watermarks, metric updates)."
    )
    window_ttl_s: int = Field(
        7 * 24 * 3600, gt=0, description="Redis TTL backstop for metric window state."
    )
    fetch_stall_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A worker that fetched nothing for this long while its partitions have "
        "unread records exits (code 70) to be restarted.",
    )
    max_outage_s: float = Field(
        300.0,
        gt=0,
        description="How long a worker rides out an unavailable Redis or Kafka (no new steps, "
        "the checkpoint retried with backoff, reported degraded) before it exits (code 70) to "
        "be restarted.",
    )
    session_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Kafka group session timeout: how soon a dead worker's "
        "partitions move to another worker.",
    )
    table_changelog: bool = Field(
        False,
        description="Also send every table write to Faust's changelog topics. Off by default: "
        "Redis holds the state durably and the processor never rebuilds it from the changelog.",
    )
    lake_uri: str = Field(
        DEFAULT_LAKE_URI,
        description="Lake whose erasure ledgers (`feedbackctl lake erase`) the worker follows: it "
        "forgets the erased users' sessions and drops their events (the sink's lake; empty: "
        "follow none).",
    )
    lake_storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="delta-rs object store options for reading the ledgers (JSON in the "
        "environment).",
    )
    erasure_check_interval_s: float = Field(
        10.0, gt=0, description="Wall-clock seconds between two looks at the erasure ledgers."
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve Prometheus /metrics here (None or 0: off)."
    )
    web_port: int = Field(0, ge=0, description="Faust web port (0: web server disabled).")

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, values: Any) -> Any:
        """Keep a password given in the URL out of the URL (reprs and logs show the URL)."""
        if not isinstance(values, dict) or not isinstance(values.get("redis_url"), str):
            return values
        url, username, password = split_password(values["redis_url"])
        if password is None and username is None:
            return values
        if password is not None and values.get("redis_password") is not None:
            raise ValueError("a Redis password both in redis_url and in redis_password")
        moved = {"redis_url": url}
        if username and values.get("redis_username") is None:
            moved["redis_username"] = username
        if password is not None:
            moved["redis_password"] = password
        return {**values, **moved}

    def redis_client_options(self) -> dict[str, Any]:
        """AUTH and TLS files for redis-py (the password still a SecretStr)."""
        return client_options(
            self.redis_username,
            self.redis_password,
            self.redis_ssl_ca_certs,
            self.redis_ssl_certfile,
            self.redis_ssl_keyfile,
        )

    @property
    def group_id(self) -> str:
        """Faust app id and consumer group, separate per namespace."""
        return f"{self.app_id}.{self.namespace}" if self.namespace else self.app_id

    @property
    def table_prefix(self) -> str:
        """Lake table prefix of the namespace (its own ledger: `ledger_paths`)."""
        return f"{self.namespace}/" if self.namespace else ""

    @property
    def redis_prefix(self) -> str:
        """Prefix of every Redis key of this app (namespace included)."""
        return f"fp:{self.group_id}"
