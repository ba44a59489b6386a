"""Creates the registry's topics on the broker; running it again changes nothing.

A created topic is returned only once every partition's log exists on its leader: metadata names
a leader before the broker has created the log, and an idempotent producer writing in that gap
lost its first batch while librdkafka reported it delivered (docs/reliability.md, Findings). A
ListOffsets request succeeds only once the log exists, so that is what is waited for.
"""

import time
from collections.abc import Iterable

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from local_stack.exceptions import StackError
from plumbing.kafka_security import kafka_client_config
from schemas.topics import TOPICS, TopicSpec

__all__ = ["ensure_topics"]


def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec] = TOPICS,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each missing topic; return the names that were created.

    `replication_factor` None: three replicas on a cluster of three or more brokers (acks=all
    then waits for `min.insync.replicas`, two, see local_stack.kafka_node), else one per broker.
    """
    # Each client is destroyed on this thread as its `with` ends. Left to the garbage collector
    # (a failed request's traceback keeps the frame, and the client, in a reference cycle), it
    # was destroyed later on whatever thread collected: another client's librdkafka thread too.
    with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
        metadata = admin.list_topics(timeout=timeout_s)
        existing = set(metadata.topics)
        if replication_factor is None:
            replication_factor = max(1, min(3, len(metadata.brokers)))
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        futures = admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    config=spec.kafka_config(),
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
