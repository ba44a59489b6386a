"""The processor's Faust tables: every key names its input partition.

- `sessions`: `"{p}/{session_id}"` -> session state (JSON bytes);
- `progress`: `"{p}"` -> watermark, checkpointed input offsets; `"0/finalizer"` -> the metrics
  finalizer's state;
- `window-partials` (tumbling windowed table): `((p, agent_id, agent_version), window range)`
  -> one partition's partial metrics of one window.

Naming the partition in the key lets the tables be written outside stream iteration (timers)
and from `take()` batches that mix partitions, without Faust's current-event partition.
"""

from typing import Any

import faust

__all__ = ["PartitionedTable", "partition_of_key", "window_range"]


def partition_of_key(key: Any) -> int:
    """The input partition a table key belongs to."""
    if isinstance(key, bytes):
        key = key.decode()
    if isinstance(key, str):
        return int(key.split("/", 1)[0])
    if isinstance(key, tuple | list):
        head = key[0]
        return int(head[0]) if isinstance(head, tuple | list) else int(str(head).split("/")[0])
    raise TypeError(f"not a partitioned table key: {key!r}")


def window_range(start_ms: int, size_s: int) -> tuple[float, float]:
    """Faust's range of the tumbling window starting at `start_ms` (end = start + size - 0.1)."""
    start = start_ms / 1000.0
    return (start, start + size_s - 0.1)


class PartitionedTable(faust.Table):
    """A Faust table whose keys carry their partition (see module docstring)."""

    def partition_of_key(self, key: Any) -> int:
        return partition_of_key(key)

    def partition_for_key(self, key: Any) -> int | None:
        return partition_of_key(key)
