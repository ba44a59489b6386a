"""Resets an inactive consumer group's offsets to a point in time (reprocessing in place).

The group's committed offsets are read and written by a consumer carrying the group's id (it
never subscribes, so it never joins the group), not by `AdminClient.list_consumer_group_offsets`
/ `alter_consumer_group_offsets`: in librdkafka 2.16 those two requests abort the whole process
(`rd_kafka_enq_once_del_source_return: Assertion 'eonce->refcnt > 0' failed`) when they time out,
as they do while a fresh broker still creates `__consumer_offsets`. `Consumer.committed` and an
asynchronous `Consumer.commit` time out with an error instead. Only the membership check stays on
the admin client: `describe_consumer_groups` times out cleanly.
"""

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
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
    its own on its next commit. Every broker request gives up after `timeout_s` with a
    ReplayError.
    """
    _refuse_active_members(bootstrap_servers, group, timeout_s)
    config = {"group.id": group, "enable.auto.commit": False, "log_level": 3}
    commits: list[KafkaError | None] = []
    consumer = Consumer(
        kafka_client_config(bootstrap_servers, config),
        on_commit=lambda error, _partitions: commits.append(error),
    )
    try:
        targets = [r for topic in topics for r in resolve_ranges(consumer, topic, time_ms, None)]
        if not targets:
            return []
        partitions = [TopicPartition(r.topic, r.partition) for r in targets]
        committed = _committed(consumer, group, partitions, timeout_s)
        moved = [TopicPartition(r.topic, r.partition, r.start) for r in targets]
        _commit(consumer, group, moved, commits, timeout_s)
    finally:
        consumer.close()
    return [
        OffsetReset(r.topic, r.partition, committed.get((r.topic, r.partition)), r.start)
        for r in targets
    ]


def _refuse_active_members(bootstrap_servers: str, group: str, timeout_s: float) -> None:
    # Destroyed on this thread as the `with` ends, never by the garbage collector elsewhere.
    with AdminClient(kafka_client_config(bootstrap_servers, {"log_level": 3})) as admin:
        future = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group]
        try:
            description = future.result()
        except KafkaException as exc:
            raise ReplayError(f"could not describe consumer group {group!r}: {exc}") from exc
    if description.members:
        hosts = sorted({member.host for member in description.members})
        raise ReplayError(
            f"consumer group {group!r} has {len(description.members)} active member(s) on "
            f"{', '.join(hosts)} (state {description.state}); stop its consumers, then reset"
        )


def _committed(
    consumer: Consumer, group: str, partitions: list[TopicPartition], timeout_s: float
) -> dict[tuple[str, int], int]:
    """The offsets `group` has committed on `partitions` (a partition without one is absent)."""
    try:
        found = consumer.committed(partitions, timeout=timeout_s)
    except KafkaException as exc:
        raise ReplayError(f"could not read the offsets of group {group!r}: {exc}") from exc
    return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}


def _commit(
    consumer: Consumer,
    group: str,
    offsets: list[TopicPartition],
    results: list[KafkaError | None],
    timeout_s: float,
) -> None:
    """Commit `offsets` for `group`, waiting at most `timeout_s` for the broker's answer.

    Asynchronous, with the answer taken from the on_commit callback: a synchronous commit has no
    timeout and would wait forever for a group coordinator that never answers.
    """
    consumer.commit(offsets=offsets, asynchronous=True)
    deadline = time.monotonic() + timeout_s
    while not results:
        if time.monotonic() > deadline:
            raise ReplayError(
                f"the broker did not confirm the new offsets of group {group!r} within "
                f"{timeout_s:.0f}s; nothing may have changed (run the reset again)"
            )
        consumer.poll(0.1)
    if results[0] is not None:
        raise ReplayError(f"could not commit the new offsets of group {group!r}: {results[0]}")
