"""Resets an inactive consumer group's offsets to a point in time (reprocessing in place)."""

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from plumbing.kafka_security import kafka_client_config
from replay.exceptions import ReplayError
from replay.offsets import resolve_ranges

__all__ = ["OffsetReset", "reset_group_to_time"]


@dataclass(frozen=True)
class OffsetReset:
    topic: str
    partition: int
    old_offset: int | None
    new_offset: int


def reset_group_to_time(
    bootstrap_servers: str,
    group: str,
    time_ms: int,
    topics: list[str],
    timeout_s: float = 30.0,
) -> list[OffsetReset]:
    """Move `group` to the first offset at or after time_ms on every partition of `topics`.

    Refuses while the group has members: a running consumer would overwrite the new offsets with
    its own on its next commit.
    """
    from confluent_kafka import Consumer

    admin = AdminClient(kafka_client_config(bootstrap_servers))
    description = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result()
    if description.members:
        hosts = sorted({member.host for member in description.members})
        raise ReplayError(
            f"consumer group {group!r} has {len(description.members)} active member(s) on "
            f"{', '.join(hosts)} (state {description.state}); stop its consumers, then reset"
        )
    committed = _committed(admin, group, timeout_s)
    consumer = Consumer(kafka_client_config(bootstrap_servers, {"group.id": f"{group}-inspect"}))
    try:
        targets = [r for topic in topics for r in resolve_ranges(consumer, topic, time_ms, None)]
    finally:
        consumer.close()
    partitions = [TopicPartition(r.topic, r.partition, r.start) for r in targets]
    request = [ConsumerGroupTopicPartitions(group, partitions)]
    for future in admin.alter_consumer_group_offsets(request, request_timeout=timeout_s).values():
        future.result()
    return [
        OffsetReset(r.topic, r.partition, committed.get((r.topic, r.partition)), r.start)
        for r in targets
    ]


def _committed(admin: AdminClient, group: str, timeout_s: float) -> dict[tuple[str, int], int]:
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request, request_timeout=timeout_s)[group].result()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.offset >= 0
    }
