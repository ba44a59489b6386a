"""The processor's Faust tables: every key names its input partition.

- `sessions`: `"{p}/{session_id}"` -> session state (JSON bytes) without its events' payloads;
- `session-entries`: `"{p}/{session_id}/{event_id}"` -> one staged event or turn of a session
  (JSON bytes), written once, deleted when the session no longer needs it;
- `progress`: `"{p}"` -> watermark, checkpointed input offsets; `"0/finalizer"` -> the metrics
  finalizer's state;
- `window-partials` (tumbling windowed table): `((p, agent_id, agent_version), window range)`
  -> one partition's partial metrics of one window.

Naming the partition in the key lets the tables be written outside stream iteration (timers)
and from fetched batches that mix partitions, without Faust's current-event partition.
"""

from typing import Any

import faust

from schemas.topics import TopicSpec

__all__ = [
    "TABLES",
    "WINDOWED_TABLE",
    "PartitionedTable",
    "changelog_topics",
    "partition_of_key",
    "window_range",
]

#: The processor's tables (see the module docstring); the last one is windowed.
TABLES = ("sessions", "session-entries", "progress", "window-partials")
WINDOWED_TABLE = "window-partials"


def changelog_topics(app_id: str, partitions: int, retention_ms: int) -> list[TopicSpec]:
    """The changelog topics Faust names after each table (`{app id}-{table}-changelog`).

    A worker creates them, and waits until every partition answers, before it joins its group:
    Faust would create them itself at start, but under load the group's first assignment could
    then be computed before they were known, and the tables got no partitions
    (docs/reliability.md, Findings).
    """
    return [
        TopicSpec(
            name=f"{app_id}-{table}-changelog",
            key="table key",
            value_record="(Faust table changelog)",
            partitions=partitions,
            retention_ms=retention_ms,
            cleanup_policy="compact,delete" if table == WINDOWED_TABLE else "compact",
        )
        for table in TABLES
    ]


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
    """A Faust table whose keys carry their partition (see module docstring).

    `changelog=False` stops Faust from sending every write to the changelog topic: for a table
    whose store is durable and shared (Redis) and never rebuilt from the changelog, those
    messages cost a Kafka write per key and are never read (docs/processor.md).
    """

    def __init__(self, app: Any, *, changelog: bool = True, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.changelog_enabled = changelog

    def on_key_set(self, key: Any, value: Any) -> None:
        if self.changelog_enabled:
            super().on_key_set(key, value)

    def on_key_del(self, key: Any) -> None:
        if self.changelog_enabled:
            super().on_key_del(key)

    def partition_of_key(self, key: Any) -> int:
        return partition_of_key(key)

    def partition_for_key(self, key: Any) -> int | None:
        return partition_of_key(key)
