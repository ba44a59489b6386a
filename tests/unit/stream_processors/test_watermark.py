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
    # read to its end from now on: silent counts from here
    assert mark.advance(now=6001, caught_up={"interactions", "feedback"}) == 10_000
    assert mark.advance(now=9000, caught_up={"interactions", "feedback"}) == 10_000
    assert mark.advance(now=11_001, caught_up={"interactions", "feedback"}) == 95_000


def test_a_source_read_to_its_end_still_holds_back_while_it_is_active() -> None:
    """Read to its end a moment ago is not silence: its next batch may be on the way."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    mark.observe("interactions", 20_000, now=0)
    mark.observe("feedback", 50_000, now=0)
    assert mark.advance(now=10, caught_up={"interactions", "feedback"}) == 20_000
    assert mark.advance(now=1010, caught_up={"interactions", "feedback"}) == 50_000


def test_a_source_that_showed_nothing_holds_until_it_was_read_to_its_end_for_a_while() -> None:
    """Feedback can reach Kafka milliseconds before the interaction it is about: an empty
    interactions topic must not let the watermark pass the feedback at once."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    expected = {"interactions", "feedback"}
    mark.observe("feedback", 50_000, now=0)
    assert mark.advance(now=5, caught_up=expected, expected=expected) is None
    assert mark.advance(now=900, caught_up=expected, expected=expected) is None
    assert mark.advance(now=950, caught_up={"feedback"}, expected=expected) is None
    # not read to its end at 950: counts again from 1500
    assert mark.advance(now=1500, caught_up=expected, expected=expected) is None
    assert mark.advance(now=2400, caught_up=expected, expected=expected) is None
    # released; every source is silent too: idle from now on, then the wall clock counts
    assert mark.advance(now=2500, caught_up=expected, expected=expected) == 50_000
    assert mark.idle
    assert mark.advance(now=2600, caught_up=expected, expected=expected) == 50_100


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


def test_a_blocked_stretch_does_not_count_as_silence() -> None:
    """A broker outage: the step blocks while the producers hold their events; when the broker
    is back, the topic they resend first must not let the watermark pass the ones still held
    (seen in the broker-restart scenario: interactions dead-lettered as too late)."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    expected = {"interactions", "signals"}
    mark.observe("interactions", 8_000, now=0)
    mark.observe("signals", 8_000, now=0)
    assert mark.advance(now=100, caught_up=expected, expected=expected) == 8_000
    # 12 s without a tick; then the signals the producer resent first arrive
    mark.observe("signals", 21_000, now=12_100)
    assert mark.advance(now=12_100, caught_up=expected, expected=expected) == 8_000
    assert mark.advance(now=12_600, caught_up=expected, expected=expected) == 8_000
    mark.observe("interactions", 8_400, now=12_900)
    assert mark.advance(now=13_000, caught_up=expected, expected=expected) == 8_400


def test_the_idle_advance_does_not_count_a_blocked_stretch() -> None:
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    expected = {"interactions"}
    mark.observe("interactions", 10_000, now=0)
    assert mark.advance(now=0, caught_up=expected, expected=expected) == 10_000
    assert mark.advance(now=500, caught_up=expected, expected=expected) == 10_000
    assert mark.advance(now=1000, caught_up=expected, expected=expected) == 10_000
    assert mark.idle
    assert mark.advance(now=1200, caught_up=expected, expected=expected) == 10_200
    # blocked for 30 s: that stretch is not known to be idle, nor is the next second
    assert mark.advance(now=31_200, caught_up=expected, expected=expected) == 10_200
    assert not mark.idle
    assert mark.advance(now=31_700, caught_up=expected, expected=expected) == 10_200
    assert mark.advance(now=32_200, caught_up=expected, expected=expected) == 10_200
    assert mark.idle
    assert mark.advance(now=32_400, caught_up=expected, expected=expected) == 10_400


def test_a_silent_sparse_source_holds_at_its_time_plus_its_silence() -> None:
    """A backlog read at full speed on interactions cannot run hours ahead of a feedback topic
    that is read to its end: the feedback source holds at its last event time plus the
    wall-clock time it has been silent."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    expected = {"interactions", "feedback"}
    mark.observe("feedback", 10_000, now=0)
    mark.observe("interactions", 10_000, now=0)
    for now in range(100, 5000, 100):
        mark.observe("interactions", 10_000 + now * 1000, now=now)  # event time 1000x faster
        value = mark.advance(now=now, caught_up={"feedback"}, expected=expected)
        assert value is not None and value <= 10_000 + now
    assert not mark.idle


def test_a_burst_into_a_long_idle_partition_waits_for_topics_it_reaches_later() -> None:
    """A worker idle for an hour: every topic has been read to its end all along. A burst
    starts on interactions; signals and feedback must still hold the watermark until they
    have been read to their end for the idle timeout after that first event."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    expected = {"interactions", "feedback", "signals"}
    for now in range(0, 3_600_000, 600_000):
        assert mark.advance(now=now, caught_up=expected, expected=expected) is None
    start = 3_600_000
    mark.observe("interactions", 500_000, now=start)
    assert mark.advance(now=start + 10, caught_up=expected, expected=expected) is None
    assert mark.advance(now=start + 900, caught_up=expected, expected=expected) is None
    mark.observe("signals", 400_000, now=start + 950)
    assert mark.advance(now=start + 960, caught_up=expected, expected=expected) is None
    # read to its end for 1 s (the step at start + 10 followed a long gap between steps,
    # which counts as a stretch nothing is known about): feedback stops holding
    assert mark.advance(now=start + 1009, caught_up=expected, expected=expected) is None
    assert mark.advance(now=start + 1010, caught_up=expected, expected=expected) == 400_000


def test_a_topic_that_showed_nothing_does_not_let_the_others_run_ahead_once_released() -> None:
    """The start of a partition's traffic, event time ten times faster than the wall clock (a
    test's traffic; a backlog): the feedback topic is empty, then its first event is held back
    400 ms (less than the idle timeout) by its producer or its broker, while the interactions
    go on. Released altogether after the idle timeout, the empty topic let the watermark pass
    that feedback (seen on a three-broker cluster: its window's count moved to the next one)."""
    mark = PartitionWatermark(lateness_ms=500, idle_timeout_ms=1000)
    expected = {"interactions", "feedback"}
    start = 1_767_225_600_000
    feedback_time = start + 9_000  # sent at wall 900 ms, read at 1300 ms
    for now in range(0, 1300, 100):
        mark.observe("interactions", start + 10 * now, now=now)
        mark.advance(now=now, caught_up=expected, expected=expected)
    value = mark.advance(now=1300, caught_up=expected, expected=expected)
    assert value is not None and value <= feedback_time
    # released: it holds at the partition's first event time plus its silence beyond the
    # idle timeout, i.e. the watermark moves with the wall clock, not with the interactions
    assert value == start + 300 - 500
    mark.observe("feedback", feedback_time, now=1300)
    assert mark.advance(now=1400, caught_up=expected, expected=expected) == feedback_time - 500


def test_a_sparse_source_held_back_less_than_the_idle_timeout_is_not_passed() -> None:
    """Live traffic (event time = wall clock): feedback is sparse, silent for 5 s, then one
    feedback is held back 800 ms (less than the idle timeout) while the interactions go on. A
    source held at its time plus its whole silence let the watermark pass it."""
    mark = PartitionWatermark(lateness_ms=500, idle_timeout_ms=1000)
    expected = {"interactions", "feedback"}
    mark.observe("feedback", 0, now=0)
    for now in range(0, 5800, 100):
        mark.observe("interactions", now, now=now)
        value = mark.advance(now=now, caught_up=expected, expected=expected)
        assert value == max(0, now - 1000) - 500  # the feedback's time plus silence beyond 1 s
    value = mark.advance(now=5800, caught_up=expected, expected=expected)
    assert value is not None and value < 5000  # the feedback sent at 5000, read at 5800
    mark.observe("feedback", 5000, now=5800)
    assert mark.advance(now=5800, caught_up=expected, expected=expected) == 5000 - 500


def test_a_source_that_showed_nothing_after_a_restart_holds_from_the_restored_watermark() -> None:
    mark = PartitionWatermark(lateness_ms=500, idle_timeout_ms=1000)
    mark.observe("interactions", 100_000, now=0)
    assert mark.advance(now=0) == 99_500
    restored = PartitionWatermark.from_state(mark.to_state(), 500, 1000, now=10_000)
    expected = {"interactions", "feedback"}
    for now in range(10_000, 12_600, 100):
        restored.observe("interactions", 100_000 + 10 * (now - 10_000), now=now)
        restored.advance(now=now, caught_up=expected, expected=expected)
    # feedback released at 11_000; from then on it holds at 100_000 plus its silence beyond
    assert restored.value == 100_000 + 1_500 - 500


def test_a_source_silent_before_a_restart_does_not_freeze_the_restored_watermark() -> None:
    """Feedback silent for a long stretch of event time held the watermark at its time plus its
    silence; restored at its old time it held it back until it had been silent as long again."""
    mark = PartitionWatermark(lateness_ms=500, idle_timeout_ms=1000)
    expected = {"interactions", "feedback"}
    mark.observe("feedback", 10_000, now=0)
    for now in range(0, 60_001, 1000):
        mark.observe("interactions", 10_000 + now, now=now)
        mark.advance(now=now, caught_up=expected, expected=expected)
    before = mark.value
    assert before is not None and before > 60_000  # feedback held at its time plus its silence
    restored = PartitionWatermark.from_state(mark.to_state(), 500, 1000, now=100_000)
    for now in range(100_000, 103_001, 100):
        restored.observe("interactions", 70_000 + (now - 100_000), now=now)
        restored.advance(now=now, caught_up=expected, expected=expected)
    # the feedback topic, silent again from the restart, holds at the restored watermark plus
    # the lateness and its silence beyond the idle timeout: the watermark moves on
    assert restored.value == before + 2_000


def test_the_projection_adds_the_wall_clock_since_the_watermark_last_moved() -> None:
    """Held still by a busy source between sparse on-time events, the watermark will jump by
    the lull; a late session's lag is measured from where it will be (`projected`)."""
    mark = PartitionWatermark(lateness_ms=0, idle_timeout_ms=1000)
    assert mark.projected(now=0) is None
    mark.observe("interactions", 50_000, now=0)
    assert mark.advance(now=0) == 50_000
    mark.observe("interactions", 10_000, now=800)  # a late event: busy, the watermark stays
    assert mark.advance(now=800) == 50_000
    assert mark.projected(now=800) == 50_800
    mark.observe("interactions", 52_000, now=2000)
    assert mark.advance(now=2000) == 52_000
    assert mark.projected(now=2000) == 52_000
