"""The `redis://` Faust store against the real Redis: layout, atomic flush, fencing, TTL."""

import uuid
from collections.abc import Iterator

import faust
import pytest
import redis
from faust.types import TP

from stream_processors.exceptions import OwnershipLostError
from stream_processors.redis_state import RedisStateWriter
from stream_processors.redis_store import RedisStore, register
from stream_processors.tables import PartitionedTable, window_range


@pytest.fixture()
def prefix(redis_url: str) -> Iterator[str]:
    unique = f"test-store-{uuid.uuid4().hex[:10]}"
    yield unique
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{unique}:*", count=1000))
    if keys:
        client.delete(*keys)


def _store(redis_url: str, prefix: str, windowed: bool = False) -> tuple[RedisStore, str]:
    register()
    app = faust.App(f"store-test-{uuid.uuid4().hex[:6]}", broker="kafka://localhost:1")
    table = PartitionedTable(
        app,
        name="things",
        partitions=6,
        key_type=None if windowed else bytes,
        value_type=bytes,
        store=redis_url,
        options={"prefix": prefix, "flush_interval": 0, "window_ttl": 120},
    )
    if windowed:
        table.tumbling(10, expires=None)
    store = table.data
    assert isinstance(store, RedisStore)
    return store, table.changelog_topic.get_topic_name()


def _assign(store: RedisStore, *partitions: int) -> None:
    """What an assignment does to the store: claim each partition and load it from Redis."""
    for partition in partitions:
        store.restore_backup(partition)


def test_registered_as_redis_url() -> None:
    from faust.stores import by_url

    register()
    assert by_url("redis://localhost:6379/0") is RedisStore


def test_write_back_until_flush_then_one_hash_per_partition(redis_url: str, prefix: str) -> None:
    store, changelog = _store(redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    _assign(store, 1, 2)
    store["1/a"] = b"A"
    store["2/b"] = b"B"
    store["1/gone"] = b"x"
    del store["1/gone"]
    store.set_persisted_offset(TP(changelog, 1), 41)
    assert store["1/a"] == b"A" and "1/gone" not in store
    assert client.hgetall(f"{prefix}:t:things:1") == {}  # nothing before the flush
    assert store.flush() == 3
    assert client.hgetall(f"{prefix}:t:things:1") == {b"1/a": b"A"}
    assert client.hgetall(f"{prefix}:t:things:2") == {b"2/b": b"B"}
    assert store.persisted_offset(TP(changelog, 1)) == 41
    assert store.persisted_offset(TP(changelog, 2)) is None


def test_write_partition_is_the_same_as_writing_key_by_key(redis_url: str, prefix: str) -> None:
    one_by_one, _ = _store(redis_url, prefix)
    in_bulk, _ = _store(redis_url, prefix + ":bulk")
    client = redis.Redis.from_url(redis_url)
    _assign(one_by_one, 3)
    _assign(in_bulk, 3)
    one_by_one["3/a"] = b"A"
    one_by_one["3/b"] = b"B"
    del one_by_one["3/b"]
    in_bulk.write_partition(3, [(b"3/a", b"A"), (b"3/b", b"B"), (b"3/b", None)])
    assert one_by_one.flush() and in_bulk.flush()
    assert client.hgetall(f"{prefix}:bulk:t:things:3") == client.hgetall(f"{prefix}:t:things:3")
    assert client.hgetall(f"{prefix}:bulk:t:things:3") == {b"3/a": b"A"}
    assert in_bulk["3/a"] == b"A" and "3/b" not in in_bulk
    reloaded, _ = _store(redis_url, prefix + ":bulk")
    _assign(reloaded, 3)
    assert list(reloaded.partition_items(3)) == [(b"3/a", b"A")]
    with pytest.raises(OwnershipLostError):
        in_bulk.write_partition(4, [(b"4/a", b"A")])


def test_load_reads_only_the_assigned_partition(redis_url: str, prefix: str) -> None:
    writer, _ = _store(redis_url, prefix)
    _assign(writer, 1, 10)
    writer["1/a"] = b"A"
    writer["10/z"] = b"Z"
    writer.flush()
    reader, _ = _store(redis_url, prefix)
    reader.writer = RedisStateWriter(redis_url, prefix)  # another worker
    reader.restore_backup(1)
    assert dict(reader.partition_items(1)) == {b"1/a": b"A"}
    assert list(reader.keys()) == [b"1/a"]
    assert reader["1/a"] == b"A"


def test_fencing_drops_writes_of_a_worker_that_lost_the_partition(
    redis_url: str, prefix: str
) -> None:
    old, _ = _store(redis_url, prefix)
    _assign(old, 3)
    old["3/k"] = b"first"
    old.flush()
    new = RedisStateWriter(redis_url, prefix)
    new.claim([3])  # a rebalance gave partition 3 to another worker
    old["3/k"] = b"stale"
    with pytest.raises(OwnershipLostError):
        old.flush()
    client = redis.Redis.from_url(redis_url)
    assert client.hget(f"{prefix}:t:things:3", b"3/k") == b"first"


async def test_windows_get_their_own_hash_with_a_ttl(redis_url: str, prefix: str) -> None:
    """(async: a windowed Faust table needs an event loop when it is created.)"""
    store, _ = _store(redis_url, prefix, windowed=True)
    _assign(store, 0)
    key = ((0, "bot", "1.0"), window_range(1_767_225_600_000, 10))
    store.table[key] = b"partial"
    store.flush()
    client = redis.Redis.from_url(redis_url)
    name = f"{prefix}:t:things:0:w1767225600000"
    assert client.hlen(name) == 1
    assert 0 < client.ttl(name) <= 120
    assert client.smembers(f"{prefix}:windows:things") == {name.encode()}


def test_a_write_to_a_partition_not_assigned_is_refused(redis_url: str, prefix: str) -> None:
    store, _ = _store(redis_url, prefix)
    _assign(store, 1)
    with pytest.raises(OwnershipLostError, match="partition 2"):
        store["2/b"] = b"B"
    with pytest.raises(OwnershipLostError, match="partition 2"):
        del store["2/b"]
    assert store.writer.pending_partitions() == set()


async def test_a_partition_assigned_again_is_reloaded_from_redis(
    redis_url: str, prefix: str
) -> None:
    """Revoked, written by its next owner, assigned back: the local copy is Redis's, not the
    copy this worker had before."""
    store, changelog = _store(redis_url, prefix)
    tp = TP(changelog, 4)
    await store.on_rebalance({tp}, set(), {tp})
    store["4/k"] = b"mine"
    store.flush()
    await store.on_rebalance(set(), {tp}, set())
    assert list(store.partition_items(4)) == []
    other, _ = _store(redis_url, prefix)
    other.writer = RedisStateWriter(redis_url, prefix)  # another worker
    _assign(other, 4)
    other["4/k"] = b"theirs"
    other["4/new"] = b"more"
    other.flush()
    await store.on_rebalance({tp}, set(), {tp})
    assert dict(store.partition_items(4)) == {b"4/k": b"theirs", b"4/new": b"more"}
    store["4/k"] = b"mine again"  # the claim moved back: this worker writes again
    store.flush()
    with pytest.raises(OwnershipLostError):
        other["4/k"] = b"stale"
        other.flush()
