"""The Redis state writer and store when Redis does not answer: a retry is always whole.

A paused Redis (SIGSTOP of a redis-server of the test's own, never the shared one) makes a flush
time out; its writes must stay buffered and reach Redis with the next flush, newer writes
winning. A transaction still unread in the socket of a connection that timed out must not be
applied after a newer one of the same partition (the owner-key fence, redis_state.py).
"""

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest
import redis
from faust.types import TP
from prometheus_client import REGISTRY

from local_stack.redis_node import RedisNode
from local_stack.settings import StackSettings
from stream_processors.redis_state import RedisStateWriter
from stream_processors.redis_store import RedisStore, register
from stream_processors.tables import PartitionedTable
from tests.e2e.pipeline_harness.private_stack import free_port


@pytest.fixture()
def own_redis(tmp_path: Path) -> Iterator[tuple[RedisNode, str]]:
    """A redis-server on a free port, stopped (and resumed, if paused) at the end."""
    settings = StackSettings(state_dir=tmp_path, redis_port=free_port())
    node = RedisNode(settings)
    node.start()
    deadline = time.monotonic() + 20
    while not node.healthy():
        assert time.monotonic() < deadline, node.process.log_tail()
        time.sleep(0.1)
    try:
        yield node, settings.redis_url
    finally:
        pid = node.process.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        node.process.stop(10)


def test_a_flush_that_timed_out_is_sent_again_by_the_next(
    own_redis: tuple[RedisNode, str],
) -> None:
    node, url = own_redis
    writer = RedisStateWriter(f"{url}?socket_timeout=0.5", f"t-{uuid.uuid4().hex[:8]}")
    writer.claim([2])
    state = writer.layout.table_hash("things", 2)
    writer.put(2, state, b"k", b"v1")
    writer.put(2, state, b"gone", b"x")
    writer.flush()
    pid = node.process.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        writer.put(2, state, b"k", b"v2")
        writer.put(2, state, b"gone", None)
        writer.persisted(2, "input", 41)
        with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
            writer.flush()
        assert writer.pending_partitions() == {2}
        writer.put(2, state, b"k", b"v3")  # written after the failed flush: it wins
    finally:
        os.kill(pid, signal.SIGCONT)
    assert writer.flush() == 2
    client = redis.Redis.from_url(url)
    assert client.hgetall(state) == {b"k": b"v3"}
    assert writer.persisted_offset("input", 2) == 41
    assert writer.flush() == 0  # nothing left over


def test_a_transaction_older_than_one_applied_since_is_refused(
    own_redis: tuple[RedisNode, str],
) -> None:
    _, url = own_redis
    writer = RedisStateWriter(url, f"t-{uuid.uuid4().hex[:8]}")
    writer.claim([5])
    state = writer.layout.table_hash("things", 5)
    writer.put(5, state, b"k", b"old")
    writer.flush()
    # An earlier flush on a connection that timed out: WATCH answered, EXEC not yet read.
    stale = redis.Redis.from_url(url).pipeline(transaction=True)
    stale.watch(writer.layout.owner(5))
    assert stale.get(writer.layout.owner(5)) == writer.token.encode()
    writer.put(5, state, b"k", b"new")
    writer.flush()  # the retry, applied first
    stale.multi()
    stale.hset(state, b"k", b"old")
    with pytest.raises(redis.WatchError):
        stale.execute()
    assert redis.Redis.from_url(url).hget(state, b"k") == b"new"


async def test_a_rebalance_while_redis_is_paused_waits_for_it(
    own_redis: tuple[RedisNode, str],
) -> None:
    """A worker given a partition during an outage loads it once Redis is back, instead of
    failing the rebalance (a restart during a Redis pause used to crash again)."""
    node, url = own_redis
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    seed = RedisStateWriter(url, prefix)
    seed.claim([1])
    seed.put(1, seed.layout.table_hash("things", 1), b"1/a", b"A")
    seed.flush()
    register()
    app = faust.App(f"outage-test-{uuid.uuid4().hex[:6]}", broker="kafka://localhost:1")
    table = PartitionedTable(
        app,
        name="things",
        partitions=6,
        key_type=bytes,
        value_type=bytes,
        store=f"{url}?socket_timeout=0.5",
        options={"prefix": prefix, "flush_interval": 0, "max_outage_s": 60},
    )
    store = table.data
    assert isinstance(store, RedisStore)
    assigned = {TP(table.changelog_topic.get_topic_name(), 1)}
    pid = node.process.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(2.0, os.kill, (pid, signal.SIGCONT))
    resume.start()
    started = time.monotonic()
    try:
        await store.on_rebalance(assigned, set(), assigned)
    finally:
        resume.join()
    assert time.monotonic() - started >= 2.0
    assert dict(store.partition_items(1)) == {b"1/a": b"A"}
    assert store.writer.owned == {1}
    degraded = REGISTRY.get_sample_value("feedback_processor_degraded", {"dependency": "redis"})
    assert degraded == 0
