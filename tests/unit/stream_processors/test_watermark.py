from stream_processors.watermark import PartitionWatermark


def test_watermark_is_the_slowest_active_source_minus_lateness() -> None:
    mark = PartitionWatermark(lateness_ms=1000, idle_timeout_ms=5000)
    mark.observe("interactions", 100_000, now=0)
    mark.observe("signals", 40_000, now=0)
    assert mark.advance(now=10) == 39_000


def test_watermark_never_goes_back() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=5000)
    mark.observe("interactions", 50_000, now=0)
    assert mark.advance(now=1) == 50_000
    mark.observe("signals", 10_000, now=2)
    assert mark.advance(now=3) == 50_000


def test_an_idle_source_stops_holding_back_only_when_caught_up() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=5000)
    mark.observe("feedback", 10_000, now=0)
    mark.observe("interactions", 90_000, now=0)
    mark.observe("interactions", 95_000, now=6000)
    # feedback is silent for 6 s but not read to its end: it still holds the watermark
    assert mark.advance(now=6000, caught_up={"interactions"}) == 10_000
    assert mark.advance(now=6001, caught_up={"interactions", "feedback"}) == 95_000


def test_all_idle_advances_with_the_wall_clock() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    mark.observe("interactions", 10_000, now=0)
    mark.observe("feedback", 3_000_000, now=0)
    assert mark.advance(now=500) == 10_000
    assert not mark.idle
    # all idle: everything was seen, so the furthest source counts, then the wall clock
    assert mark.advance(now=2000) == 3_000_000
    assert mark.idle
    assert mark.advance(now=3000) == 3_001_000


def test_no_event_no_watermark() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    assert mark.advance(now=10_000) is None


def test_state_round_trip_restarts_idle_clocks() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    mark.observe("interactions", 10_000, now=0)
    mark.advance(now=1)
    restored = PartitionWatermark.from_state(mark.to_state(), 0, 1000, now=50_000)
    assert restored.value == 10_000
    # just restarted: the source counts as active, so no wall-clock jump
    assert restored.advance(now=50_100) == 10_000
