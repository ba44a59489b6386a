"""How far a consumer group is behind on a set of topics (sum over partitions)."""

from types import TracebackType

from confluent_kafka import Consumer, KafkaException, TopicPartition

from plumbing.kafka_security import kafka_client_config

__all__ = ["GroupLag"]

_TIMEOUT_S = 10.0


class GroupLag:
    """Reads a group's committed offsets and the topics' high watermarks.

    Committed offsets come from a consumer carrying the group's id (it never subscribes, so it
    never joins the group), not from `AdminClient.list_consumer_group_offsets`: that request,
    timing out while a fresh broker still creates `__consumer_offsets`, crashed the process
    inside librdkafka (2.16: a segfault or an `eonce->refcnt > 0` assertion in its main thread,
    with or without a librdkafka-side timeout); `Consumer.committed` times out cleanly.

    Use it as a context manager (or call `close`) on the thread that made it: every librdkafka
    client is then destroyed there, never by the garbage collector on another thread.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.consumer = Consumer(
            kafka_client_config(bootstrap_servers, {"group.id": "feedbackctl-lag-probe"})
        )
        self._groups: dict[str, Consumer] = {}

    def high_watermarks(self, topics: list[str]) -> dict[tuple[str, int], int]:
        marks = {}
        metadata = self.consumer.list_topics(timeout=_TIMEOUT_S).topics
        for topic in topics:
            for partition in metadata[topic].partitions if topic in metadata else {}:
                high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=_TIMEOUT_S
                )[1]
                marks[(topic, partition)] = high
        return marks

    def committed(
        self, group: str, partitions: list[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The offsets `group` committed on `partitions` (none when it has not, or on a timeout)."""
        if not partitions:
            return {}
        reader = self._groups.get(group)
        if reader is None:
            config = {"group.id": group, "enable.auto.commit": False}
            reader = self._groups[group] = Consumer(
                kafka_client_config(self.bootstrap_servers, config)
            )
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        try:
            found = reader.committed(wanted, timeout=_TIMEOUT_S)
        except KafkaException:  # no coordinator yet: nothing committed that we can see
            return {}
        return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}

    def lag(self, group: str, topics: list[str]) -> int:
        """Messages `group` has not committed on `topics` (all of them when it committed none)."""
        marks = self.high_watermarks(topics)
        committed = self.committed(group, list(marks))
        return sum(max(0, high - committed.get(key, 0)) for key, high in marks.items())

    def total(self, topics: list[str]) -> int:
        return sum(self.high_watermarks(topics).values())

    def __enter__(self) -> "GroupLag":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every consumer now, on this thread (idempotent)."""
        for reader in [self.consumer, *self._groups.values()]:
            reader.close()
