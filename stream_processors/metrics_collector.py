"""Reading every partition's metrics state for the finalizer: Redis for other workers'
partitions, memory for this worker's own (newer than what it last flushed)."""

from collections.abc import Mapping
from typing import Any

import orjson

from stream_processors.metrics import WindowPartial
from stream_processors.partition import (
    PartitionConfig,
    PartitionProcessor,
    WindowKey,
    bound_of_progress,
)
from stream_processors.redis_state import RedisStateWriter

__all__ = ["ANNOUNCED_KEY", "FINALIZER_KEY", "MetricsCollector", "window_item"]

FINALIZER_KEY = "0/finalizer"  # progress table key of the finalizer's state (partition 0)
# Progress table key (partition 0) of how far the finalizer is about to publish: written at
# once, outside the checkpoints, before its last read of the bounds (PartitionProcessor).
ANNOUNCED_KEY = "0/announced"


def window_item(key: bytes, value: bytes) -> tuple[WindowKey, dict[str, Any]]:
    """Decode one entry of the window-partials table: ((p, agent, version), range) -> state."""
    (_, agent_id, version), (start_s, _) = orjson.loads(key)
    return (agent_id, version, round(start_s * 1000)), orjson.loads(value)


class MetricsCollector:
    """Reads the progress and window-partials tables of all partitions, not only ours."""

    def __init__(
        self,
        writer: RedisStateWriter,
        progress_table: str,
        partials_table: str,
        partition_count: int,
        config: PartitionConfig,
    ) -> None:
        self.writer = writer
        self.progress_table = progress_table
        self.partials_table = partials_table
        self.partition_count = partition_count
        self.config = config

    def published_until(self) -> int | None:
        """How far the finalizer (on another worker) has published final metrics."""
        layout = self.writer.layout
        raw = self.writer.client.hget(
            layout.table_hash(self.progress_table, 0), FINALIZER_KEY.encode()
        )
        return orjson.loads(raw).get("finalized_until") if raw else None

    def announce(self, until: int) -> None:
        """Say, before the last read of the bounds, how far finals are about to be published."""
        layout = self.writer.layout
        self.writer.client.hset(
            layout.table_hash(self.progress_table, 0),
            ANNOUNCED_KEY.encode(),
            orjson.dumps({"until": until}),
        )

    def announced_until(self) -> int | None:
        """How far finals are published, or announced to be: the furthest of the two."""
        layout = self.writer.layout
        published, announced = self.writer.client.hmget(
            layout.table_hash(self.progress_table, 0),
            [FINALIZER_KEY.encode(), ANNOUNCED_KEY.encode()],
        )
        values = [
            value
            for value in (
                orjson.loads(published).get("finalized_until") if published else None,
                orjson.loads(announced).get("until") if announced else None,
            )
            if value is not None
        ]
        return max(values) if values else None

    def bounds(
        self, processors: Mapping[int, PartitionProcessor]
    ) -> tuple[dict[int, int | str | None], int | None]:
        """Every partition's metrics bound (see PartitionProcessor.metrics_bound), and the
        furthest applied watermark."""
        layout = self.writer.layout
        others = [p for p in range(self.partition_count) if p not in processors]
        persisted: dict[int, bytes | None] = {}
        if others:  # only other workers' partitions are read from Redis
            pipe = self.writer.client.pipeline(transaction=False)
            for partition in others:
                pipe.hget(
                    layout.table_hash(self.progress_table, partition), str(partition).encode()
                )
            persisted = dict(zip(others, pipe.execute(), strict=True))
        watermarks: dict[int, int | str | None] = {}
        furthest: int | None = None
        for partition in range(self.partition_count):
            processor = processors.get(partition)
            if processor is not None:
                state: dict[str, Any] | None = processor.progress_state()
            else:
                raw = persisted.get(partition)
                state = orjson.loads(raw) if raw else None
            watermarks[partition] = bound_of_progress(state)
            frozen = state.get("frozen_before") if state is not None else None
            if frozen is not None:
                furthest = frozen if furthest is None else max(furthest, frozen)
        return watermarks, furthest

    def partials(
        self,
        processors: Mapping[int, PartitionProcessor],
        finalized_until: int | None,
        max_end: int | None,
    ) -> dict[WindowKey, dict[int, WindowPartial]]:
        """Window partials of every partition not yet published as final (and ending at or
        before `max_end`, if given)."""
        layout, client = self.writer.layout, self.writer.client
        indexes = layout.window_indexes(self.partials_table, self.partition_count)
        size = self.config.window_ms
        live, done = [], []
        reading = client.pipeline(transaction=False)
        for index in indexes:
            reading.smembers(index)
        for index, members in zip(indexes, reading.execute(), strict=True):
            for raw_name in members:
                name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
                start = layout.window_of_hash(name)
                if start is None:
                    continue
                if finalized_until is not None and start + size <= finalized_until:
                    done.append((index, name))
                elif (max_end is None or start + size <= max_end) and (
                    layout.partition_of_hash(name, self.partials_table) not in processors
                ):
                    live.append(name)
        if done:
            removing = client.pipeline(transaction=False)
            for index in {index for index, _ in done}:
                removing.srem(index, *(name for i, name in done if i == index))
            removing.execute()
        partials: dict[WindowKey, dict[int, WindowPartial]] = {}
        pipe = client.pipeline(transaction=False)
        for name in live:
            pipe.hgetall(name)
        for name, fields in zip(live, pipe.execute(), strict=True):
            partition = layout.partition_of_hash(name, self.partials_table)
            for key, value in fields.items():
                window_key, state = window_item(key, value)
                partials.setdefault(window_key, {})[partition] = WindowPartial.from_state(
                    state, self.config.sample_size
                )
        for partition, processor in processors.items():
            for window_key, partial in processor.windows.items():
                if max_end is None or window_key[2] + size <= max_end:
                    partials.setdefault(window_key, {})[partition] = partial
        return partials
