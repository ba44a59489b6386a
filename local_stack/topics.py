"""Creates the registry's topics on the broker; running it again changes nothing.

A created topic is returned only once every partition's log exists on its leader: metadata names
a leader before the broker has created the log, and an idempotent producer writing in that gap
lost its first batch while librdkafka reported it delivered (docs/reliability.md, Findings). A
ListOffsets request succeeds only once the log exists, so that is what is waited for.

Every component that creates topics does it here (the stack, `feedbackctl topics create`, the
processor's own topics, replays, the CLI's `--create-topics`), so every topic gets the replicas
of `local_stack.replication` for the cluster it is created on, and its `min.insync.replicas` set
on the topic itself rather than left to the brokers' default (1 on most clusters).
"""

import time
from collections.abc import Iterable

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from local_stack.exceptions import StackError
from local_stack.replication import min_insync_replicas, replication_factor_for
from plumbing.kafka_security import kafka_client_config
from schemas.topics import TOPICS, TopicSpec

__all__ = ["ensure_topics", "partition_count_problems", "set_topic_config", "topic_config"]


def topic_config(spec: TopicSpec, replication_factor: int) -> dict[str, str]:
    """The topic-level settings to create `spec` with on `replication_factor` replicas (the
    spec's own `min.insync.replicas`, if it names one, wins)."""
    return {
        "min.insync.replicas": str(min_insync_replicas(replication_factor)),
        **spec.kafka_config(),
    }


def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec] = TOPICS,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each missing topic; return the names that were created.

    `replication_factor` None: from the cluster's broker count (`replication_factor_for`).
    """
    # Each client is destroyed on this thread as its `with` ends. Left to the garbage collector
    # (a failed request's traceback keeps the frame, and the client, in a reference cycle), it
    # was destroyed later on whatever thread collected: another client's librdkafka thread too.
    with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
        metadata = admin.list_topics(timeout=timeout_s)
        existing = set(metadata.topics)
        replicas = replication_factor or replication_factor_for(len(metadata.brokers))
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        futures = admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replicas,
                    config=topic_config(spec, replicas),
                )
                for spec in missing
            ],
            request_timeout=timeout_s,
        )
        created = []
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise StackError(f"could not create topic {name}: {exc}") from exc
    partitions = {spec.name: spec.partitions for spec in missing}
    _wait_until_logs_exist(
        bootstrap_servers,
        [TopicPartition(name, p) for name in created for p in range(partitions[name])],
        timeout_s,
    )
    return created


def set_topic_config(
    bootstrap_servers: str, names: Iterable[str], config: dict[str, str], timeout_s: float = 30.0
) -> None:
    """Set `config` on existing topics, leaving their other settings as they are."""
    entries = [
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
        for key, value in config.items()
    ]
    resources = [
        ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries) for name in names
    ]
    if not resources:
        return
    with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
        futures = admin.incremental_alter_configs(resources, request_timeout=timeout_s)
        for resource, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                raise StackError(f"could not configure topic {resource.name}: {exc}") from exc


def _wait_until_logs_exist(
    bootstrap_servers: str, partitions: list[TopicPartition], timeout_s: float
) -> None:
    """Until a ListOffsets request for every partition succeeds (see the module docstring)."""
    deadline = time.monotonic() + timeout_s
    pending = list(partitions)
    last_error: Exception | None = None
    while pending:
        # A fresh client each round: librdkafka's admin client can keep a stale leader epoch.
        with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
            futures = admin.list_offsets(
                {tp: OffsetSpec.latest() for tp in pending}, request_timeout=5.0
            )
            still = []
            for tp, future in futures.items():
                try:
                    future.result()
                except KafkaException as exc:
                    still.append(tp)
                    last_error = exc
        pending = still
        if pending and time.monotonic() > deadline:
            names = sorted({f"{tp.topic}[{tp.partition}]" for tp in pending})[:5]
            raise StackError(f"partitions {names} have no log after {timeout_s}s: {last_error}")
        if pending:
            time.sleep(0.1)


def partition_count_problems(
    bootstrap_servers: str, specs: Iterable[TopicSpec], timeout_s: float = 30.0
) -> dict[str, str]:
    """Existing topics of `specs` whose partition count is not the registry's, by name: what
    is wrong, in a sentence.

    Topics created by hand or by another tool (Terraform, an operator) are not created here,
    so nothing else checks them. The processor needs the registry's count on its three input
    topics: it joins a session on one partition number of the three, and its metrics collector
    reads the registry's partitions. Kafka Streams refuses to start on the same mismatch."""
    with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
        metadata = admin.list_topics(timeout=timeout_s)
    problems = {}
    for spec in specs:
        topic = metadata.topics.get(spec.name)
        if topic is None or topic.error is not None:
            continue
        if len(topic.partitions) != spec.partitions:
            problems[spec.name] = (
                f"{spec.name} has {len(topic.partitions)} partitions; the registry "
                f"(schemas.topics) gives it {spec.partitions}"
            )
    return problems
