"""The Kafka fields every service's settings share: where the cluster is, and extra librdkafka
settings for the service's clients.

Written once here and inherited, so the gateway, the processor, the sink, the producer SDK, the
dashboard, replays and the curation commands cannot drift apart in name, default or meaning.
They are pydantic models, not `ServiceSettings`: a settings class that inherits them keeps its
own environment prefix (`FEEDBACK_GATEWAY_BOOTSTRAP_SERVERS`, `FEEDBACK_SINK_KAFKA_CONFIG`...),
registers those names itself, and no class with the bare FEEDBACK_ prefix is added (which would
make `FEEDBACK_KAFKA_CONFIG` a valid name). How every client authenticates is not here but in
`plumbing.kafka_security` (FEEDBACK_KAFKA_*, one set for the whole project).
"""

from pydantic import BaseModel, Field

from plumbing.settings import DEFAULT_BOOTSTRAP_SERVERS

__all__ = ["KafkaClientFields", "KafkaConnectionFields", "LibrdkafkaValue"]

LibrdkafkaValue = str | int | float | bool


class KafkaConnectionFields(BaseModel):
    """Where the Kafka cluster is (FEEDBACK_BOOTSTRAP_SERVERS sets it for every service)."""

    bootstrap_servers: str = Field(
        DEFAULT_BOOTSTRAP_SERVERS,
        description="Kafka bootstrap servers, host:port[,host:port...].",
    )


class KafkaClientFields(KafkaConnectionFields):
    """The cluster, and librdkafka settings a service's clients take beyond the project's."""

    kafka_config: dict[str, LibrdkafkaValue] = Field(
        default_factory=dict,
        description="Extra librdkafka settings of the service's clients (tuning, or a security "
        "key to override one of FEEDBACK_KAFKA_*'s), JSON in the environment.",
    )
