"""`redis://` Faust table store: table data in Redis, shared by every worker of the app.

URL: `redis://host:port/db` or `rediss://host:port/db` (TLS), or a Redis Cluster
(`redis+cluster://host:port/?nodes=host:port,...`, what `redis_connection.faust_store_url`
makes of `redis+cluster://host:port,host:port`; see redis_state.py for the cluster layout).
Store options (`Table(options=...)`):
- `prefix`: first part of every Redis key (default `faust:{app id}`);
- `flush_interval`: seconds between background flushes of the write-back buffer (default 1.0;
  0 = only when the owner calls `flush()`, on rebalance and on stop);
- `apply_changelog`: apply the changelog tail Faust reads at recovery (default True; an app that
  checkpoints its input offsets in the same flush, like ours, sets False, see docs/processor.md);
- `window_ttl`: seconds of Redis TTL on each window's hash of a windowed table (default 7 days);
- `max_outage_s`: how long a rebalance waits for an unavailable Redis, retrying with backoff,
  before it fails (default 300; the processor passes its own setting, see outage.py);
- `connection`: redis-py keyword arguments for AUTH and TLS files (`password` may be a
  SecretStr), see `stream_processors.redis_connection`. `rediss://` URLs connect over TLS.

The Faust store API is synchronous on the event loop, so reads never go to Redis: the store keeps
an in-memory copy of the partitions assigned to this worker, loaded by SCAN/HSCAN when they are
assigned and dropped when revoked, and writes go to a per-partition write-back buffer that is
flushed in one MULTI/EXEC together with the persisted changelog offsets. Partitions are those of
the table's changelog topic; a table can name the partition of a key itself with a
`partition_of_key(key)` method (writes outside stream iteration), else the current event's
partition is used. Use `table_standby_replicas=0`: the data is shared, standbys would overwrite it.
"""

import asyncio
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from faust.stores.base import SerializedStore
from faust.streams import current_event
from faust.types import TP, AppT, CollectionT, EventT
from mode import Service
from yarl import URL

from stream_processors.exceptions import OwnershipLostError
from stream_processors.outage import OutageTracker, unavailable_dependency
from stream_processors.redis_connection import REDIS_SCHEMES, from_faust_store_url
from stream_processors.redis_state import RedisStateWriter, writer_for

__all__ = ["RedisStore", "register"]


class RedisStore(SerializedStore):
    """Faust store keeping table partitions in Redis hashes (see module docstring)."""

    def __init__(self, url: str | URL, app: AppT, table: CollectionT, **kwargs: Any) -> None:
        super().__init__(url, app, table, **kwargs)
        options = dict(self.options or {})
        self.prefix: str = options.get("prefix") or f"faust:{app.conf.id}"
        self.flush_interval = float(options.get("flush_interval", 1.0))
        self.apply_changelog = bool(options.get("apply_changelog", True))
        self.window_ttl = int(options.get("window_ttl", 7 * 24 * 3600))
        self.max_outage_s = float(options.get("max_outage_s", 300.0))
        self.writer: RedisStateWriter = writer_for(
            _redis_url(self.url), self.prefix, options.get("connection")
        )
        self._data: dict[int, dict[bytes, bytes]] = {}
        self._key_partition: dict[bytes, int] = {}
        # Partitions assigned to this worker and loaded from Redis since their assignment. A
        # write to any other partition is a bug that could leave a stale local copy behind.
        self._assigned: set[int] = set()

    # -- partitions ----------------------------------------------------------------------------

    def _partition_of(self, key: bytes) -> int:
        partition_of_key = getattr(self.table, "partition_of_key", None)
        if partition_of_key is not None:
            return int(partition_of_key(self._decode_key(key)))
        known = self._key_partition.get(key)
        if known is not None:
            return known
        event = current_event()
        if event is not None:
            return event.message.partition
        raise TypeError(
            f"table {self.table_name}: cannot tell the partition of a key outside stream "
            "iteration; give the table a partition_of_key(key) method"
        )

    def _hash_of(self, partition: int, key: bytes) -> str:
        return self.writer.layout.table_hash(self.table_name, partition, self._window_start(key))

    def _window_start(self, key: bytes) -> int | None:
        if getattr(self.table, "window", None) is None:
            return None
        decoded = json.loads(key)
        return int(decoded[1][0] * 1000)  # (key, (start_s, end_s))

    def _partitions_of(self, tps: Iterable[TP]) -> set[int]:
        topic = self.table.changelog_topic.get_topic_name()
        return {tp.partition for tp in tps if tp.topic == topic}

    # -- the SerializedStore interface ---------------------------------------------------------

    def _get(self, key: bytes) -> bytes | None:
        partition = self._key_partition.get(key)
        if partition is None:
            try:
                partition = self._partition_of(key)
            except TypeError:
                return None
        return self._data.get(partition, {}).get(key)

    def _set(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._del(key)
            return
        partition = self._partition_of(key)
        self._check_assigned(partition)
        self._data.setdefault(partition, {})[key] = value
        self._key_partition[key] = partition
        name = self._hash_of(partition, key)
        self.writer.put(partition, name, key, value)
        if self.writer.layout.window_of_hash(name) is not None:
            index = self.writer.layout.window_index(self.table_name, partition)
            self.writer.expire(partition, name, self.window_ttl, index)

    def _del(self, key: bytes) -> None:
        partition = self._key_partition.pop(key, None)
        if partition is None:
            try:
                partition = self._partition_of(key)
            except TypeError:
                return
        self._check_assigned(partition)
        self._data.get(partition, {}).pop(key, None)
        self.writer.put(partition, self._hash_of(partition, key), key, None)

    def _check_assigned(self, partition: int) -> None:
        if partition not in self._assigned:
            raise OwnershipLostError(
                f"table {self.table_name}: write to partition {partition}, which is not "
                "assigned to this worker"
            )

    def _iterkeys(self) -> Iterator[bytes]:
        for data in list(self._data.values()):
            yield from list(data)

    def _itervalues(self) -> Iterator[bytes | None]:
        for data in list(self._data.values()):
            yield from list(data.values())

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        for data in list(self._data.values()):
            yield from list(data.items())

    def _size(self) -> int:
        return sum(len(data) for data in self._data.values())

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def _clear(self) -> None:
        for partition, data in self._data.items():
            for key in data:
                self.writer.put(partition, self._hash_of(partition, key), key, None)
            data.clear()
        self._key_partition.clear()

    # -- partition-level access (our processor reads one partition at a time) ------------------

    def partition_items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Encoded (key, value) pairs of one assigned partition."""
        yield from list(self._data.get(partition, {}).items())

    def write_partition(
        self, partition: int, changes: Iterable[tuple[bytes, bytes | None]]
    ) -> None:
        """Set (value) or delete (None) many encoded keys of one assigned partition.

        What `table[key] = value` / `del table[key]` do per key, without Faust's per-key codec
        and partition lookups: for a table whose keys and values are bytes (the "raw" codec),
        and not windowed. The processor persists thousands of keys per step this way.
        """
        if getattr(self.table, "window", None) is not None:
            raise TypeError(f"table {self.table_name} is windowed: write it key by key")
        self._check_assigned(partition)
        data = self._data.setdefault(partition, {})
        known = self._key_partition
        name = self.writer.layout.table_hash(self.table_name, partition)
        put = self.writer.put
        for key, value in changes:
            if value is None:
                data.pop(key, None)
                known.pop(key, None)
            else:
                data[key] = value
                known[key] = partition
            put(partition, name, key, value)

    def flush(self) -> int:
        """Write every pending change (all tables of the app) in one transaction."""
        return self.writer.flush()

    # -- offsets and recovery ------------------------------------------------------------------

    def persisted_offset(self, tp: TP) -> int | None:
        return self.writer.persisted_offset(tp.topic, tp.partition)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.writer.persisted(tp.partition, tp.topic, offset)

    def apply_changelog_batch(self, batch: Iterable[EventT], to_key: Any, to_value: Any) -> None:
        offsets: dict[TP, int] = {}
        for event in batch:
            message = event.message
            offsets[message.tp] = max(message.offset, offsets.get(message.tp, -1))
            if not self.apply_changelog:
                continue
            if message.key is None:
                raise TypeError(f"changelog entry without a key: {message}")
            partition = message.partition
            self._key_partition[message.key] = partition
            if message.value is None:
                self._del(message.key)
            else:
                self._set(message.key, message.value)
        for tp, offset in offsets.items():
            self.set_persisted_offset(tp, offset)

    def reset_state(self) -> None:
        """Forget the local copy; Redis keeps the data (it is the shared, durable copy)."""
        self._data.clear()
        self._key_partition.clear()
        self._assigned.clear()

    async def backup_partition(
        self, tp: TP | int, flush: bool = True, purge: bool = False, keep: int = 1
    ) -> None:
        """Redis (with AOF) is the durable copy: a backup is a flush of the write-back buffer."""
        if flush:
            self.writer.flush()

    def restore_backup(self, tp: TP | int, latest: bool = True, backup_id: int = 0) -> None:
        """Reload a partition's local copy from Redis."""
        partition = tp if isinstance(tp, int) else tp.partition
        self._load(partition)

    # -- rebalancing ---------------------------------------------------------------------------

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        revoked_partitions = self._partitions_of(revoked)
        if revoked_partitions:
            pending = revoked_partitions & self.writer.pending_partitions()
            await self._while_redis_is_away(lambda: self.writer.flush(pending))
            for partition in revoked_partitions:
                self._drop(partition)
            self.writer.release(revoked_partitions)
            self._assigned -= revoked_partitions
        standbys = self.app.assignor.assigned_standbys()
        active = self._partitions_of(tp for tp in assigned if tp not in standbys)
        for partition in sorted(active - self._assigned):
            await self._while_redis_is_away(functools.partial(self._load, partition))

    async def _while_redis_is_away(self, action: Callable[[], object]) -> None:
        """Run `action` (Redis I/O) in a thread, again with backoff while Redis is unavailable.

        A worker that starts, or is given partitions, during a Redis outage waits for Redis here
        (reported degraded, as the runtime's checkpoint does) instead of failing the rebalance;
        a failed flush keeps its writes and a failed load starts over, so a retry is whole. After
        `max_outage_s` the DependencyOutageError fails the rebalance (the worker stops).
        """
        outages: OutageTracker | None = None
        while True:
            try:
                await asyncio.to_thread(action)
            except Exception as exc:
                if unavailable_dependency(exc) != "redis":
                    raise
                outages = outages or OutageTracker(self.max_outage_s)
                await asyncio.sleep(outages.failed("redis", exc))
            else:
                if outages is not None:
                    outages.recovered()
                return

    def _load(self, partition: int) -> None:
        self.writer.claim([partition])
        self._drop(partition)
        data = self._data[partition] = {}
        for _, key, value in self.writer.scan_table(self.table_name, partition):
            data[key] = value
            self._key_partition[key] = partition
        self._assigned.add(partition)

    def _drop(self, partition: int) -> None:
        for key in self._data.pop(partition, {}):
            self._key_partition.pop(key, None)

    @Service.task
    async def _flush_periodically(self) -> None:
        if self.flush_interval <= 0:
            return
        while not self.should_stop:
            await self.sleep(self.flush_interval)
            self.writer.flush()

    async def stop(self) -> None:
        if self.flush_interval > 0:
            self.writer.flush()
        await super().stop()


def _redis_url(url: URL) -> str:
    return from_faust_store_url(str(url))


def register() -> None:
    """Make `redis://` and `rediss://` known to Faust without the entry point (e.g. before
    `pip install -e`)."""
    from faust.stores import STORES

    for scheme in REDIS_SCHEMES:
        STORES.data.setdefault(scheme, "stream_processors.redis_store:RedisStore")
