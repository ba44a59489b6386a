"""The finals handshake's reads and writes against the real Redis (docs/processor.md, "An idle
partition that wakes up"): the announcement lives beside the finalizer's checkpointed state and
survives the checkpoints, and a woken partition's held bound is what the finalizer reads next.
The protocol itself, with every interleaving, is tested in
tests/unit/stream_processors/test_final_metrics_handshake.py."""

import uuid
from collections.abc import Iterator

import faust
import orjson
import pytest
import redis

from stream_processors.finalizer import IDLE
from stream_processors.metrics_collector import FINALIZER_KEY, MetricsCollector
from stream_processors.partition import PartitionProcessor
from stream_processors.redis_store import RedisStore, register
from stream_processors.tables import PartitionedTable
from tests.unit.stream_processors.conftest import EventFactory
from tests.unit.stream_processors.test_arrival_order import CONFIG, TOPICS


@pytest.fixture()
def progress(redis_url: str) -> Iterator[RedisStore]:
    """The processor's `progress` table on the real Redis, partitions 0-2 claimed."""
    prefix = f"test-finals-{uuid.uuid4().hex[:10]}"
    register()
    app = faust.App(f"finals-test-{uuid.uuid4().hex[:6]}", broker="kafka://localhost:1")
    table = PartitionedTable(
        app,
        name="progress",
        partitions=3,
        key_type=bytes,
        value_type=bytes,
        store=redis_url,
        options={"prefix": prefix, "flush_interval": 0},
    )
    store = table.data
    assert isinstance(store, RedisStore)
    for partition in range(3):
        store.restore_backup(partition)
    yield store
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def _collector(store: RedisStore) -> MetricsCollector:
    return MetricsCollector(store.writer, "progress", "window-partials", 3, CONFIG)


def test_the_announcement_is_read_with_the_published_point(progress: RedisStore) -> None:
    collector = _collector(progress)
    assert collector.announced_until() is None
    collector.announce(60_000)
    assert collector.announced_until() == 60_000
    # The finalizer's checkpoint writes its own field of the same hash, and leaves this one.
    progress[FINALIZER_KEY] = orjson.dumps({"finalized_until": 40_000, "seq": {}, "digest": {}})
    progress.flush()
    assert collector.published_until() == 40_000
    assert collector.announced_until() == 60_000
    progress[FINALIZER_KEY] = orjson.dumps({"finalized_until": 90_000, "seq": {}, "digest": {}})
    progress.flush()
    assert collector.announced_until() == 90_000  # the furthest of the two


def test_a_woken_partition_holds_the_finals_once_its_hold_is_flushed(
    progress: RedisStore,
) -> None:
    """Partition 1 went idle and was checkpointed so (the finalizer skips it); an old event
    arrives: the hold it checkpoints is what the finalizer reads, and the point it reads back is
    where its late counts go."""
    collector = _collector(progress)
    events = EventFactory("s-1")
    processor = PartitionProcessor(1, CONFIG, now=0)
    processor.ingest("interaction", 0, events.interaction(100.0), 0)
    processor.advance(0, TOPICS, TOPICS)
    for now in range(100, 200_000, 100):  # traffic stops: the session closes, the input idles
        processor.advance(now, TOPICS, TOPICS)
    assert not processor.sessions
    idle = processor.dirty_state().progress
    assert idle is not None
    progress["1"] = orjson.dumps(idle)
    progress.flush()
    bounds, _ = collector.bounds({})
    assert bounds[1] == IDLE and processor.exposed
    collector.announce(10**13)  # the finalizer is about to publish far past partition 1

    processor.ingest("interaction", 1, events.interaction(150.0, turn=1), 200_000)
    assert processor.must_hold_finals
    processor.hold_finals()
    held = processor.dirty_state().progress
    assert held is not None
    progress["1"] = orjson.dumps(held)
    progress.flush()
    bounds, _ = collector.bounds({})
    assert bounds[1] == processor.frozen_before  # a number: the finalizer waits for it
    processor.finals_held(collector.announced_until())
    assert processor.held_until == 10**13 and not processor.exposed
    before = set(processor.windows)
    processor.advance(200_100, TOPICS, TOPICS)
    assert set(processor.windows) == before  # late: its session waits for the rest of it
    # Nothing of its session for the idle timeout, and its own clock (the watermark, which its
    # arrival held for the idle timeout too, less how far behind it is: twice the idle timeout
    # plus the lateness, plus the step of wall clock since the watermark had last moved when
    # the event arrived, `PartitionProcessor._arrived_late`) has passed it.
    step = 100
    processor.advance(200_000 + CONFIG.idle_timeout_ms, TOPICS, TOPICS)
    processor.advance(200_000 + 2 * CONFIG.idle_timeout_ms, TOPICS, TOPICS)
    processor.advance(200_000 + 3 * CONFIG.idle_timeout_ms + CONFIG.lateness_ms, TOPICS, TOPICS)
    processor.advance(
        200_000 + 3 * CONFIG.idle_timeout_ms + CONFIG.lateness_ms + step, TOPICS, TOPICS
    )
    counted = set(processor.windows) - before
    assert counted, "the late turn was not counted anywhere"
    assert all(start + CONFIG.window_ms > 10**13 for _, _, start in counted)
