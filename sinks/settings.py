"""Settings of the Delta Lake sink (FEEDBACK_SINK_* environment variables)."""

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from plumbing.kafka_settings import KafkaClientFields
from plumbing.settings import (
    DEFAULT_LAKE_URI,
    ENV_PREFIX,
    ServiceSettings,
)
from schemas.lake_paths import check_namespace

__all__ = ["SINK_ENV_PREFIX", "SinkSettings"]

SINK_ENV_PREFIX = f"{ENV_PREFIX}SINK_"


class SinkSettings(ServiceSettings, KafkaClientFields):
    """Where the sink reads, where it writes, and when it flushes a micro-batch.

    The defaults give files of tens of MB under load and rows visible within `flush_latency_s`
    when traffic is light.
    """

    model_config = SettingsConfigDict(env_prefix=SINK_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    namespace: str = Field(
        "",
        description="Replay namespace: topics `<name>.<namespace>`, "
        "tables `<lake>/<namespace>/<table>`.",
    )
    group_id: str = "feedback-sink"
    sink_name: str = Field(
        "feedback-sink",
        description="Names the Delta application transactions (`<sink_name>-<topic>-<partition>`); "
        "keep it stable, or the sink re-reads every topic from the start.",
    )
    flush_rows: int = Field(100_000, gt=0)
    flush_bytes: int = Field(64 * 1024 * 1024, gt=0)
    flush_latency_s: float = Field(5.0, gt=0)
    flush_idle_s: float | None = Field(
        None,
        gt=0,
        description="Also flush when no message arrived for this long (the topics are drained). "
        "Off by default: on a trickle of traffic it would commit almost every message. Runs "
        "with --exit-when-idle (replays, backfills) use 0.2 s.",
    )
    consume_batch: int = Field(10_000, gt=0, description="Messages per consumer.consume() call.")
    start_from: Literal["earliest", "latest"] = Field(
        "earliest",
        description="Where a partition with no offsets in the Delta log starts.",
    )
    validate_raw_bodies: bool = Field(
        False,
        description="Parse every raw event body to the end (slower) instead of only the fields "
        "raw_events stores; corrupt tails then show in decode_error.",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="delta-rs object store options, e.g. AWS_ENDPOINT_URL for S3-compatible "
        "storage (JSON in the environment).",
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description="Kafka group session timeout: how soon a dead sink's "
        "partitions move to the others.",
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve Prometheus /metrics here (None or 0: off)."
    )
    checkpoint_interval: int = Field(
        10,
        ge=1,
        description="Delta checkpoint every this many commits of a table (delta.checkpointInterval;"
        " delta-rs defaults to 100): readers replay fewer JSON commits when opening a table.",
    )
    dead_letter_max_bytes: int = Field(
        256 * 1024, gt=0, description="Original bytes kept in a sink-made dead letter."
    )

    @field_validator("namespace")
    @classmethod
    def _plain_namespace(cls, value: str) -> str:
        """A directory under the lake root, never `../other` or an absolute path."""
        return check_namespace(value)

    @property
    def consumer_group(self) -> str:
        """Consumer group of this namespace: a replay's sink never joins the live sink's group."""
        return f"{self.group_id}.{self.namespace}" if self.namespace else self.group_id

    @property
    def table_prefix(self) -> str:
        """Table name prefix of the namespace (empty for the live lake)."""
        return f"{self.namespace}/" if self.namespace else ""
