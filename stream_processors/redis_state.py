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

On a Redis Cluster (`redis+cluster://` URLs) a transaction cannot span hash slots, so every key
of one partition carries the hash tag `{prefix:partition}` in place of the prefix (offsets and
the window index are per partition there), and a flush is one MULTI/EXEC per partition: each
partition's state and its persisted offsets still change together. Redis replicates
asynchronously and a replica that takes over may miss the last writes its primary
acknowledged, so after each partition's transaction the writer waits (WAIT) until a replica
has it, up to `replica_wait_ms`; a checkpoint the runtime acts on is on two nodes.

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
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from stream_processors.exceptions import OwnershipLostError
from stream_processors.redis_connection import CLUSTER_SCHEMES, cluster_nodes, unwrap_secrets
from stream_processors.telemetry import CountingRedisConnection

__all__ = ["RedisLayout", "RedisStateWriter", "redis_client", "writer_for"]

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
    """Names of the Redis keys of one app (`cluster`: one hash slot per partition)."""

    prefix: str
    cluster: bool = False

    def _base(self, partition: int | str) -> str:
        """The prefix, or on a cluster the partition's hash tag (every key of it in one slot)."""
        return f"{{{self.prefix}:{partition}}}" if self.cluster else self.prefix

    def table_hash(self, table: str, partition: int, window_start: int | None = None) -> str:
        base = f"{self._base(partition)}:t:{table}:{partition}"
        return base if window_start is None else f"{base}:w{window_start}"

    def table_pattern(self, table: str, partition: int | str = "*") -> str:
        return f"{self._base(partition)}:t:{table}:{partition}*"

    def partition_of_hash(self, name: str, table: str) -> int:
        rest = name.split(f":t:{table}:", 1)[1]
        return int(rest.split(":", 1)[0])

    def window_index(self, table: str, partition: int = 0) -> str:
        """A set of the window hashes of a windowed table (cheap to list, unlike SCAN); one
        for the app, or one per partition on a cluster."""
        return f"{self._base(partition)}:windows:{table}"

    def window_indexes(self, table: str, partitions: int) -> list[str]:
        """Every window index of `table` (one name, or one per partition on a cluster)."""
        return sorted({self.window_index(table, p) for p in range(partitions)})

    @staticmethod
    def window_of_hash(name: str) -> int | None:
        last = name.rsplit(":", 1)[-1]
        return int(last[1:]) if last.startswith("w") else None

    @property
    def offsets(self) -> str:
        return f"{self.prefix}:offsets"

    def offsets_hash(self, partition: int) -> str:
        """Where a partition's persisted offsets live (one hash, or one per partition)."""
        return f"{self._base(partition)}:offsets"

    def owner(self, partition: int) -> str:
        return f"{self._base(partition)}:owner:{partition}"


@dataclass
class _Pending:
    """Writes of one partition waiting for the next flush."""

    fields: dict[str, dict[bytes, bytes | None]] = field(default_factory=lambda: defaultdict(dict))
    ttl: dict[str, int] = field(default_factory=dict)
    index: dict[str, str] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)


def redis_client(
    url: str, connection: Mapping[str, Any] | None = None
) -> "redis.Redis | RedisCluster":
    """A client of `url`: one server (`redis://`, `rediss://`) or a cluster (`redis+cluster://`).

    `connection`: AUTH and TLS files (stream_processors.redis_connection.client_options).
    """
    options = {**_CLIENT_OPTIONS, **unwrap_secrets(connection or {})}
    nodes = cluster_nodes(url)
    if nodes is not None:
        # A failover takes the cluster's node timeout and an election (seconds): the client's
        # own retries only cover a MOVED/ASK or one reconnect; the runtime retries the rest.
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            ssl=url.startswith(CLUSTER_SCHEMES[1]),
            cluster_error_retry_attempts=2,
            **options,
        )
    # Counts every request in feedback_processor_redis_round_trips (unix:// and rediss://
    # URLs keep redis-py's own connection class).
    counting = {"connection_class": CountingRedisConnection} if url.startswith("redis://") else {}
    return redis.Redis.from_url(url, **counting, **options)


class RedisStateWriter:
    """Buffers every table's writes per partition and flushes them atomically."""

    def __init__(
        self,
        url: str,
        prefix: str,
        connection: Mapping[str, Any] | None = None,
        replica_wait_ms: int = 1000,
    ) -> None:
        self.client: Any = redis_client(url, connection)
        self.cluster = isinstance(self.client, RedisCluster)
        self.layout = RedisLayout(prefix, cluster=self.cluster)
        self.replica_wait_ms = replica_wait_ms
        # Checkpoints that no replica had confirmed when WAIT gave up (a replica is down).
        self.unreplicated = 0
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
        if self.cluster:
            for partition in sorted(new):
                self.client.set(self.layout.owner(partition), self.token)
        else:
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
        if not self.cluster:
            return self._write_together(batches)
        lost: set[int] = set()
        for partition, batch in batches.items():
            lost |= self._write_together({partition: batch})
            if partition not in lost:
                self._wait_for_replica(partition)
        return lost

    def _wait_for_replica(self, partition: int) -> None:
        """WAIT until a replica of the partition's primary has its transaction (see the module
        docstring). WAIT counts the writes of its own connection: sent right after EXEC on the
        node's pool it gets the connection the transaction gave back (the pool is LIFO and
        flushes are serialised); on another connection it would return at once."""
        if self.replica_wait_ms <= 0:
            return
        node = self.client.get_node_from_key(self.layout.owner(partition))
        acknowledged = self.client.get_redis_connection(node).execute_command(
            "WAIT", 1, self.replica_wait_ms
        )
        if int(acknowledged) < 1:
            self.unreplicated += 1

    def _write_together(self, batches: dict[int, _Pending]) -> set[int]:
        owner_keys = [self.layout.owner(p) for p in batches]
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*owner_keys)
                    # One GET per key: a cluster pipeline refuses MGET (one slot here anyway).
                    owners = [pipe.get(key) for key in owner_keys]
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
                            pipe.hset(
                                self.layout.offsets_hash(partition),
                                mapping=dict(batch.offsets),
                            )
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
        pattern = self.layout.table_pattern(table, partition)
        # On a cluster every key of the partition is in one slot: scan only its primary.
        where = (
            {"target_nodes": self.client.get_node_from_key(self.layout.owner(partition))}
            if self.cluster
            else {}
        )
        names = sorted(
            name.decode()
            for name in self.client.scan_iter(match=pattern, count=_SCAN_COUNT, **where)
        )
        for name in names:
            if self.layout.partition_of_hash(name, table) != partition:
                continue  # e.g. partition 1 matched the pattern of partition 10
            for key, value in self.client.hscan_iter(name, count=_SCAN_COUNT):
                yield name, key, value

    def persisted_offset(self, topic: str, partition: int) -> int | None:
        value = self.client.hget(self.layout.offsets_hash(partition), f"{topic}:{partition}")
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
