"""The broker's end (and start) offsets of input partitions, asked for when the processor needs
them fresh.

The consumer's own high watermarks arrive with fetch responses, so they can be seconds old (after
a rebalance, or while other partitions are fetched); Faust's `Consumer.highwaters()` goes through
its consumer thread and waits behind a long fetch. One ListOffsets request through an AdminClient
answers in about a millisecond on a local broker.

After a broker restart, librdkafka's admin client can keep failing with FENCED_LEADER_EPOCH
(it asks with the leader epoch it cached before); a failed request therefore replaces the
client, and the next request starts from fresh metadata.
"""

import asyncio
from collections.abc import Sequence

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from faust.types import TP

from plumbing.kafka_security import kafka_client_config

__all__ = ["EndOffsets"]


class EndOffsets:
    """Asks the brokers for the current end offset (next offset to be written) or log start
    offset (first offset still kept) of partitions."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 5.0) -> None:
        self._config = kafka_client_config(bootstrap_servers)  # FEEDBACK_KAFKA_* security
        self._admin: AdminClient | None = None
        self._timeout_s = timeout_s

    async def latest(self, partitions: Sequence[TP]) -> dict[TP, int]:
        """End offset per partition; raises what the request raised (KafkaException...)."""
        return await self._offsets(partitions, OffsetSpec.latest())

    async def earliest(self, partitions: Sequence[TP]) -> dict[TP, int]:
        """Log start offset per partition (retention moves it); raises as `latest`."""
        return await self._offsets(partitions, OffsetSpec.earliest())

    async def _offsets(self, partitions: Sequence[TP], spec: OffsetSpec) -> dict[TP, int]:
        if not partitions:
            return {}
        if self._admin is None:
            self._admin = AdminClient(self._config)
        try:
            futures = self._admin.list_offsets(
                {TopicPartition(tp.topic, tp.partition): spec for tp in partitions},
                request_timeout=self._timeout_s,
            )
            ends: dict[TP, int] = {}
            for requested, future in futures.items():
                result = await asyncio.wrap_future(future)
                ends[TP(requested.topic, requested.partition)] = int(result.offset)
        except Exception:
            self._admin = None
            raise
        return ends
