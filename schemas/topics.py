"""The topic registry: every topic's name, key, value record, partitions and retention, once."""

from dataclasses import dataclass, field, replace

__all__ = [
    "ALERTS",
    "COPY_TARGET_CONFIG",
    "DATASETS",
    "DEADLETTER",
    "ENRICHED",
    "FEEDBACK",
    "INPUT_TOPICS",
    "INTERACTIONS",
    "METRICS",
    "RELEASE_IMPACT",
    "SIGNALS",
    "TOPICS",
    "TopicSpec",
    "session_key",
    "topic_by_name",
]

_DAY_MS = 24 * 60 * 60 * 1000

# Input topics are co-partitioned: same key (session_id), same partition count, so one worker
# owns all of a session's state. Change it for all of them or for none.
INPUT_PARTITIONS = 6
# The broker stamps each input record with the time it appended it: the processor checks event
# times against that moment (`future_event_time`, the watermark's cap), and a producer host whose
# clock runs fast would otherwise stamp its records with its own clock, accepted by the batch
# reference and by a later replay but refused live (docs/semantics.md).
_BROKER_TIME = {"message.timestamp.type": "LogAppendTime"}
# A replay or backfill target keeps the copied stamps, and nothing in it expires while the copy
# is written (`TopicSpec.keeping_timestamps`).
COPY_TARGET_CONFIG = {"message.timestamp.type": "CreateTime", "retention.ms": "-1"}


@dataclass(frozen=True)
class TopicSpec:
    """A Kafka topic and its contract."""

    name: str
    key: str
    value_record: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    config: dict[str, str] = field(default_factory=dict)

    def in_namespace(self, namespace: str | None) -> "TopicSpec":
        """This topic in a separate namespace (replays write to `<name>.<namespace>`)."""
        if not namespace:
            return self
        return replace(self, name=f"{self.name}.{namespace}")

    def keeping_timestamps(self) -> "TopicSpec":
        """This topic keeping each record's timestamp as produced, with no time limit yet.

        Replays and backfills copy records with the timestamps the broker gave them when they
        first arrived. Kafka's retention counts from those timestamps, so a copy of records a
        week old would be deleted at the broker's next retention check: the copy is written
        without a time limit, then `retention_counted_from` sets one.
        """
        return replace(self, config={**self.config, **COPY_TARGET_CONFIG})

    def retention_counted_from(self, oldest_ms: int, now_ms: int) -> dict[str, str]:
        """The configuration that keeps records stamped `oldest_ms` or later for this topic's
        retention after `now_ms` (a copy lives as long as the records it copied did)."""
        return {"retention.ms": str(self.retention_ms + max(0, now_ms - oldest_ms))}

    def kafka_config(self) -> dict[str, str]:
        """Topic-level configuration to create the topic with."""
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            **self.config,
        }


INTERACTIONS = TopicSpec(
    name="agent.interactions.v1",
    key="session_id",
    value_record="agentfeedback.events.Interaction",
    partitions=INPUT_PARTITIONS,
    retention_ms=7 * _DAY_MS,
    config=_BROKER_TIME,
)
FEEDBACK = TopicSpec(
    name="agent.feedback.v1",
    key="session_id",
    value_record="agentfeedback.events.Feedback",
    partitions=INPUT_PARTITIONS,
    retention_ms=7 * _DAY_MS,
    config=_BROKER_TIME,
)
SIGNALS = TopicSpec(
    name="agent.signals.v1",
    key="session_id",
    value_record="agentfeedback.events.Signal",
    partitions=INPUT_PARTITIONS,
    retention_ms=7 * _DAY_MS,
    config=_BROKER_TIME,
)
ENRICHED = TopicSpec(
    name="agent.sessions.enriched.v1",
    key="session_id",
    value_record="agentfeedback.enriched.EnrichedInteraction",
    partitions=INPUT_PARTITIONS,
    retention_ms=7 * _DAY_MS,
)
METRICS = TopicSpec(
    name="agent.metrics.v1",
    key="agent_id/agent_version",
    value_record="agentfeedback.metrics.QualityMetric",
    partitions=3,
    retention_ms=7 * _DAY_MS,
)
DEADLETTER = TopicSpec(
    name="agent.deadletter.v1",
    key="source topic/partition/offset",
    value_record="agentfeedback.deadletter.DeadLetter",
    partitions=3,
    retention_ms=30 * _DAY_MS,
    config={"max.message.bytes": str(2 * 1024 * 1024)},
)
ALERTS = TopicSpec(
    name="agent.alerts.v1",
    key="agent_id/agent_version",
    value_record="agentfeedback.monitoring.QualityAlert",
    partitions=1,
    retention_ms=30 * _DAY_MS,
)

# A new dataset version is ready (`feedbackctl curate watch`): training pipelines listen here.
DATASETS = TopicSpec(
    name="agent.datasets.v1",
    key="agent_id/kind",
    value_record="agentfeedback.curation.DatasetReady",
    partitions=1,
    retention_ms=90 * _DAY_MS,
)
# A candidate version's measured impact (`feedbackctl compare --publish`).
RELEASE_IMPACT = TopicSpec(
    name="agent.release_impact.v1",
    key="agent_id/candidate",
    value_record="agentfeedback.monitoring.ReleaseImpact",
    partitions=1,
    retention_ms=90 * _DAY_MS,
)

INPUT_TOPICS: tuple[TopicSpec, ...] = (INTERACTIONS, FEEDBACK, SIGNALS)
TOPICS: tuple[TopicSpec, ...] = (
    *INPUT_TOPICS,
    ENRICHED,
    METRICS,
    DEADLETTER,
    ALERTS,
    DATASETS,
    RELEASE_IMPACT,
)


def topic_by_name(name: str) -> TopicSpec:
    """The registered topic called `name` (namespace suffixes included)."""
    for spec in TOPICS:
        if name == spec.name or name.startswith(spec.name + "."):
            return spec.in_namespace(name[len(spec.name) + 1 :] or None)
    raise KeyError(f"no topic named {name!r} in the topic registry (schemas/topics.py)")


def session_key(key: bytes | None) -> str | None:
    """A Kafka key as the session id it is on the topics keyed by session (None: empty, or not
    UTF-8)."""
    if not key:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None
