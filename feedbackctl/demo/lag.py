"""How far a consumer group is behind on a set of topics (sum over partitions)."""

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from plumbing.kafka_security import kafka_client_config

__all__ = ["GroupLag"]


class GroupLag:
    """Reads a group's committed offsets and the topics' high watermarks."""

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

    def close(self) -> None:
        self.consumer.close()
