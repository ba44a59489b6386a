"""The Redis side of the `redis://` Faust store: key layout, write-back buffer, atomic flush.

Layout (every key starts with the app's prefix, every data key names its partition):
- `{prefix}:t:{table}:{partition}`: a hash of one table partition, field = encoded table key;
- `{prefix}:t:{table}:{partition}:w{start}`: the same for one window of a windowed table; it
  carries a TTL (the backstop for windows nobody deleted);
- `{prefix}:offsets`: a hash `{changelog topic}:{partition}` -> persisted changelog offset;
- `{prefix}:owner:{partition}`: the token of the worker that owns the partition (fencing).

All stores of one app share one `RedisStateWriter`: writes are buffered per partition and a
flush sends every table's pending writes and the persisted offsets in one MULTI/EXEC, after
checking (WATCH) that this worker still owns each partition it writes.

A flush that fails (Redis unreachable, a timeout) may or may not have been applied: a timeout
after EXEC was sent says nothing. Its writes go back into the buffer, and the next flush sends
them again, which is harmless: every command sets a final value (HSET, HDEL, EXPIRE, SADD, the
offsets), so applying a transaction twice leaves what applying it once does. What must not
happen is an *older* transaction, still unread in the socket of a connection that timed out,
being applied after a newer one: each transaction therefore also sets its partitions' owner
keys (to the same token), which every transaction WATCHes, so a transaction that arrives after
another one of its partitions was applied fails its WATCH instead.
"""

import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from stream_processors.exceptions import OwnershipLostError
from stream_processors.redis_connection import unwrap_secrets
from stream_processors.telemetry import CountingRedisConnection

__all__ = ["RedisLayout", "RedisStateWriter", "writer_for"]

_SCAN_COUNT = 1000
# A paused or unreachable Redis shows as a timeout after this long; one quick reconnect covers a
# pooled connection that a Redis restart closed. Anything longer is the caller's to retry
# (the runtime's checkpoint loop, with backoff): redis-py's default of three retries with up to
# 10 s between them held a flush for ~30 s before the worker knew Redis was away.
_CLIENT_OPTIONS = {
    "socket_timeout": 5.0,
    "socket_connect_timeout": 5.0,
    "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
}


@dataclass(frozen=True)
class RedisLayout:
    """Names of the Redis keys of one app."""

    prefix: str

    def table_hash(self, table: str, partition: int, window_start: int | None = None) -> str:
        base = f"{self.prefix}:t:{table}:{partition}"
        return base if window_start is None else f"{base}:w{window_start}"

    def table_pattern(self, table: str, partition: int | str = "*") -> str:
        return f"{self.prefix}:t:{table}:{partition}*"

    def partition_of_hash(self, name: str, table: str) -> int:
        rest = name[len(f"{self.prefix}:t:{table}:") :]
        return int(rest.split(":", 1)[0])

    def window_index(self, table: str) -> str:
        """A set of the window hashes of a windowed table (cheap to list, unlike SCAN)."""
        return f"{self.prefix}:windows:{table}"

    @staticmethod
    def window_of_hash(name: str) -> int | None:
        last = name.rsplit(":", 1)[-1]
        return int(last[1:]) if last.startswith("w") else None

    @property
    def offsets(self) -> str:
        return f"{self.prefix}:offsets"

    def owner(self, partition: int) -> str:
        return f"{self.prefix}:owner:{partition}"


@dataclass
class _Pending:
    """Writes of one partition waiting for the next flush."""

    fields: dict[str, dict[bytes, bytes | None]] = field(default_factory=lambda: defaultdict(dict))
    ttl: dict[str, int] = field(default_factory=dict)
    index: dict[str, str] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)


class RedisStateWriter:
    """Buffers every table's writes per partition and flushes them atomically."""

    def __init__(self, url: str, prefix: str, connection: Mapping[str, Any] | None = None) -> None:
        # Counts every request in feedback_processor_redis_round_trips (unix:// and rediss://
        # URLs keep redis-py's own connection class).
        counting = (
            {"connection_class": CountingRedisConnection} if url.startswith("redis://") else {}
        )
        # `connection`: AUTH and TLS files (stream_processors.redis_connection.client_options).
        self.client = redis.Redis.from_url(
            url, **counting, **_CLIENT_OPTIONS, **unwrap_secrets(connection or {})
        )
        self.layout = RedisLayout(prefix)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.owned: set[int] = set()
        self._pending: dict[int, _Pending] = defaultdict(_Pending)
        self._lock = Lock()

    # -- ownership -----------------------------------------------------------------------------

    def claim(self, partitions: Iterable[int]) -> None:
        """Become the owner of `partitions`: a flush by the previous owner now fails."""
        new = set(partitions) - self.owned
        if not new:
            return
        with self.client.pipeline(transaction=True) as pipe:
            for partition in sorted(new):
                pipe.set(self.layout.owner(partition), self.token)
            pipe.execute()
        self.owned |= new

    def release(self, partitions: Iterable[int]) -> None:
        self.owned -= set(partitions)

    # -- buffering -----------------------------------------------------------------------------

    def put(self, partition: int, hash_name: str, key: bytes, value: bytes | None) -> None:
        self._pending[partition].fields[hash_name][key] = value

    def expire(self, partition: int, hash_name: str, ttl_s: int, index: str | None = None) -> None:
        """Give a hash a TTL at the next flush (and list it in the `index` set)."""
        self._pending[partition].ttl[hash_name] = ttl_s
        if index is not None:
            self._pending[partition].index[hash_name] = index

    def persisted(self, partition: int, topic: str, offset: int) -> None:
        self._pending[partition].offsets[f"{topic}:{partition}"] = offset

    def pending_partitions(self) -> set[int]:
        return set(self._pending)

    # -- flushing ------------------------------------------------------------------------------

    def flush(self, partitions: Iterable[int] | None = None) -> int:
        """Write the pending writes of `partitions` (default: all) in one transaction.

        Raises OwnershipLostError (after dropping their writes) for partitions another worker
        claimed since; the other partitions are written. Returns the number of fields written.
        Any other error (Redis unreachable...) puts the writes back: flush again to retry.
        """
        with self._lock:
            chosen = sorted(self._pending if partitions is None else set(partitions))
            chosen = [p for p in chosen if p in self._pending]
            if not chosen:
                return 0
            batches = {p: self._pending.pop(p) for p in chosen}
        try:
            lost = self._write(batches)
        except BaseException:
            self._restore(batches)
            raise
        if lost:
            self.owned -= lost
            raise OwnershipLostError(
                f"partitions {sorted(lost)} are owned by another worker now; their state "
                "changes were dropped and will be recomputed by the new owner"
            )
        return sum(len(f) for b in batches.values() for f in b.fields.values())

    def _restore(self, batches: dict[int, _Pending]) -> None:
        """Put the writes of a failed flush back, under those buffered since (newer wins)."""
        with self._lock:
            for partition, batch in batches.items():
                newer = self._pending.get(partition)
                if newer is not None:
                    for name, fields in newer.fields.items():
                        batch.fields[name].update(fields)
                    batch.ttl.update(newer.ttl)
                    batch.index.update(newer.index)
                    batch.offsets.update(newer.offsets)
                self._pending[partition] = batch

    def _write(self, batches: dict[int, _Pending]) -> set[int]:
        owner_keys = [self.layout.owner(p) for p in batches]
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*owner_keys)
                    owners = pipe.mget(owner_keys)
                    lost = {
                        p
                        for p, owner in zip(batches, owners, strict=True)
                        if owner is not None and _text(owner) != self.token
                    }
                    pipe.multi()
                    for partition, batch in batches.items():
                        if partition in lost:
                            continue
                        _queue(pipe, batch)
                        if batch.offsets:
                            pipe.hset(self.layout.offsets, mapping=dict(batch.offsets))  # type: ignore[arg-type]
                        # Same token, but a write: an older transaction of this partition not
                        # yet applied (see the module docstring) now fails its WATCH.
                        pipe.set(self.layout.owner(partition), self.token)
                    pipe.execute()
                    return lost
                except redis.WatchError:
                    continue

    # -- reading -------------------------------------------------------------------------------

    def scan_table(self, table: str, partition: int) -> Iterator[tuple[str, bytes, bytes]]:
        """Every (hash name, field, value) of one table partition, by SCAN and HSCAN."""
        names = sorted(
            name.decode()
            for name in self.client.scan_iter(
                match=self.layout.table_pattern(table, partition), count=_SCAN_COUNT
            )
        )
        for name in names:
            if self.layout.partition_of_hash(name, table) != partition:
                continue  # e.g. partition 1 matched the pattern of partition 10
            for key, value in self.client.hscan_iter(name, count=_SCAN_COUNT):
                yield name, key, value

    def persisted_offset(self, topic: str, partition: int) -> int | None:
        value = self.client.hget(self.layout.offsets, f"{topic}:{partition}")
        return int(value) if value is not None else None


def _queue(pipe: "redis.client.Pipeline", batch: _Pending) -> None:
    for name, fields in batch.fields.items():
        sets = {k: v for k, v in fields.items() if v is not None}
        deletes = [k for k, v in fields.items() if v is None]
        if sets:
            pipe.hset(name, mapping=sets)  # type: ignore[arg-type]
        if deletes:
            pipe.hdel(name, *deletes)
    for name, ttl in batch.ttl.items():
        pipe.expire(name, ttl)
    for name, index in batch.index.items():
        pipe.sadd(index, name)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_writers: dict[tuple[str, str], RedisStateWriter] = {}
_writers_lock = Lock()


def writer_for(
    url: str, prefix: str, connection: Mapping[str, Any] | None = None
) -> RedisStateWriter:
    """The writer shared by every store of one app (same Redis URL and prefix) in a process."""
    with _writers_lock:
        writer = _writers.get((url, prefix))
        if writer is None:
            writer = _writers[(url, prefix)] = RedisStateWriter(url, prefix, connection)
        return writer
