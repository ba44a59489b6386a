"""The rows buffered for the next commit, per table, and when they must be flushed."""

import time
from dataclasses import dataclass, field

import pyarrow as pa

from sinks.delta_writer import PartitionKey

__all__ = ["FlushPolicy", "MicroBatch", "TableBuffer"]


@dataclass(frozen=True)
class FlushPolicy:
    """Flush on rows, bytes or latency, whichever comes first."""

    max_rows: int
    max_bytes: int
    max_latency_s: float


@dataclass
class TableBuffer:
    """Arrow chunks for one table and the last Kafka offset read per source partition."""

    chunks: list[pa.Table] = field(default_factory=list)
    offsets: dict[PartitionKey, int] = field(default_factory=dict)

    def rows(self) -> pa.Table | None:
        if not self.chunks:
            return None
        return pa.concat_tables(self.chunks) if len(self.chunks) > 1 else self.chunks[0]


class MicroBatch:
    """Everything consumed since the last commit; knows whether it is due."""

    def __init__(self, policy: FlushPolicy) -> None:
        self.policy = policy
        self.tables: dict[str, TableBuffer] = {}
        self.messages = 0
        self.bytes = 0
        self.opened_at: float | None = None
        self._monotonic = time.monotonic

    def add(
        self, table: str, rows: pa.Table | None, offsets: dict[PartitionKey, int], size: int = 0
    ) -> None:
        """Buffer rows for `table`, and note how far each partition was read for it."""
        buffer = self.tables.setdefault(table, TableBuffer())
        if rows is not None and rows.num_rows:
            buffer.chunks.append(rows)
        for key, last in offsets.items():
            if last > buffer.offsets.get(key, -1):
                buffer.offsets[key] = last
        self.bytes += size

    def count(self, messages: int) -> None:
        """Note that `messages` Kafka messages went into the batch (starts the latency clock)."""
        if messages and self.opened_at is None:
            self.opened_at = self._monotonic()
        self.messages += messages

    @property
    def empty(self) -> bool:
        return self.messages == 0

    def seconds_left(self) -> float:
        """Time until the latency bound forces a flush (infinite while empty)."""
        if self.opened_at is None:
            return float("inf")
        return self.policy.max_latency_s - (self._monotonic() - self.opened_at)

    def due(self) -> bool:
        if self.empty:
            return False
        return (
            self.messages >= self.policy.max_rows
            or self.bytes >= self.policy.max_bytes
            or self.seconds_left() <= 0
        )

    def clear(self) -> None:
        self.tables.clear()
        self.messages = 0
        self.bytes = 0
        self.opened_at = None
