"""`AsyncFeedbackClient`: the same SDK for asyncio agents, never blocking the event loop.

Logging an event only encodes it and queues it in librdkafka (microseconds), so the `log_*`
coroutines do that inline; when the local queue is full they wait with `asyncio.sleep` instead of
blocking the loop, and `flush()` / `close()` run in a worker thread.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from prometheus_client import CollectorRegistry

from producers.client import FeedbackClient, ProducerTopics
from producers.metrics import ProducerStats
from producers.records import (
    FeedbackFields,
    InteractionFields,
    SignalFields,
    build_feedback,
    build_interaction,
    build_signal,
)
from producers.settings import ProducerSettings
from schemas.topics import TopicSpec

__all__ = ["AsyncFeedbackClient"]

_QUEUE_FULL_RETRY_S = 0.005


class AsyncFeedbackClient:
    """`async with AsyncFeedbackClient() as feedback: await feedback.log_interaction(...)`."""

    def __init__(
        self,
        settings: ProducerSettings | None = None,
        *,
        topics: ProducerTopics | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.client = FeedbackClient(settings, topics=topics, registry=registry)

    async def log_interaction(self, **fields: Unpack[InteractionFields]) -> str:
        """Emit one turn; returns its event_id."""
        return await self._emit(self.client.topics.interactions, build_interaction, fields)

    async def log_feedback(self, **fields: Unpack[FeedbackFields]) -> str:
        """Emit explicit feedback on a turn or a session; returns its event_id."""
        return await self._emit(self.client.topics.feedback, build_feedback, fields)

    async def log_signal(self, **fields: Unpack[SignalFields]) -> str:
        """Emit an implicit signal; returns its event_id."""
        return await self._emit(self.client.topics.signals, build_signal, fields)

    async def send(self, topic: TopicSpec, record: Mapping[str, Any]) -> str:
        """Emit a complete record dict to one of the input topics."""
        client = self.client
        return await self._queue(topic, client._complete(topic, record))

    async def flush(self, timeout_s: float | None = None) -> int:
        """Wait for deliveries in a worker thread; return how many are still queued."""
        return await asyncio.to_thread(self.client.flush, timeout_s)

    async def close(self) -> ProducerStats:
        """Deliver or spool everything, in a worker thread."""
        return await asyncio.to_thread(self.client.close)

    def stats(self) -> ProducerStats:
        return self.client.stats()

    async def replay_spool(self) -> int:
        return await asyncio.to_thread(self.client.replay_spool)

    async def __aenter__(self) -> "AsyncFeedbackClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _emit(
        self,
        topic: TopicSpec,
        builder: Callable[..., dict[str, Any]],
        fields: Mapping[str, Any],
    ) -> str:
        return await self._queue(topic, self.client._build(topic, builder, fields))

    async def _queue(self, topic: TopicSpec, record: Mapping[str, Any]) -> str:
        client = self.client
        key, value = client._encode(topic, record)
        if not client._offer(topic.name, key, value):
            client._counters.queue_full_wait()
            deadline = time.monotonic() + client.settings.queue_full_timeout_s
            while True:
                await asyncio.sleep(_QUEUE_FULL_RETRY_S)
                if client._offer(topic.name, key, value):
                    break
                if time.monotonic() >= deadline:
                    client._queue_stayed_full(topic.name, key, value)
                    break
        return str(record["event_id"])
