"""How far a consumer group is behind on a set of topics (sum over partitions)."""

from types import TracebackType

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from plumbing.kafka_security import kafka_client_config

__all__ = ["GroupLag"]


class GroupLag:
    """Reads a group's committed offsets and the topics' high watermarks.

    Use it as a context manager (or call `close`) on the thread that made it: both librdkafka
    clients are then destroyed there. Left to the garbage collector, a client is destroyed on
    whatever thread runs the collection, possibly one of librdkafka's own threads delivering an
    admin result, which aborts or crashes the process.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self.admin = AdminClient(kafka_client_config(bootstrap_servers))
        self.consumer = Consumer(
            kafka_client_config(bootstrap_servers, {"group.id": "feedbackctl-lag-probe"})
        )

    def high_watermarks(self, topics: list[str]) -> dict[tuple[str, int], int]:
        marks = {}
        metadata = self.consumer.list_topics(timeout=10).topics
        for topic in topics:
            for partition in metadata[topic].partitions if topic in metadata else {}:
                high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )[1]
                marks[(topic, partition)] = high
        return marks

    def lag(self, group: str, topics: list[str]) -> int:
        """Messages `group` has not committed on `topics` (all of them when it committed none)."""
        request = [ConsumerGroupTopicPartitions(group)]
        try:
            result = self.admin.list_consumer_group_offsets(request)[group].result(timeout=10)
            committed = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions or []
                if tp.offset >= 0
            }
        except Exception:
            committed = {}
        return sum(
            max(0, high - committed.get(key, 0))
            for key, high in self.high_watermarks(topics).items()
        )

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
        """Close the consumer and destroy the admin client now, on this thread (idempotent).

        `AdminClient.__exit__` is its only close (confluent-kafka >= 2.13); a pending request's
        callback runs during the destroy, while this thread waits without the GIL.
        """
        self.consumer.close()
        self.admin.__exit__(None, None, None)
