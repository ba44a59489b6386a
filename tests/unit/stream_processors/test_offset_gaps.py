"""Gap detection between the checkpoint and the next input event."""

from faust.types import TP

from stream_processors.offset_gaps import GapVerdict, OffsetGaps

TOPIC = TP("agent.interactions.v1", 3)
OTHER = TP("agent.signals.v1", 3)


def test_the_next_offset_and_a_first_event_apply() -> None:
    gaps = OffsetGaps()
    assert gaps.check(TOPIC, 0, None, 0.0) is GapVerdict.APPLY
    assert gaps.check(TOPIC, 13, None, 0.0) is GapVerdict.APPLY  # no checkpoint yet: any start
    assert gaps.check(TOPIC, 11, 10, 0.0) is GapVerdict.APPLY
    assert gaps.take_seeks() == {}
    assert gaps.gaps_seen == 0


def test_a_gap_seeks_back_once_and_drops_until_the_missing_offset_comes() -> None:
    gaps = OffsetGaps(settle_s=5.0)
    assert gaps.check(TOPIC, 147, 112, 0.0) is GapVerdict.DROP
    assert gaps.take_seeks() == {TOPIC: 113}
    # events fetched past the gap before the seek took effect: dropped, no second seek
    assert gaps.check(TOPIC, 148, 112, 0.1) is GapVerdict.DROP
    assert gaps.take_seeks() == {}
    assert gaps.check(OTHER, 41, 40, 0.1) is GapVerdict.APPLY  # other partitions go on
    assert gaps.check(TOPIC, 113, 112, 0.2) is GapVerdict.APPLY
    assert gaps.check(TOPIC, 114, 113, 0.2) is GapVerdict.APPLY
    assert gaps.gaps_seen == 1


def test_a_seek_that_did_not_help_is_repeated_after_the_settle_time() -> None:
    gaps = OffsetGaps(settle_s=5.0)
    gaps.check(TOPIC, 147, 112, 0.0)
    gaps.take_seeks()
    assert gaps.check(TOPIC, 150, 112, 6.0) is GapVerdict.DROP
    assert gaps.take_seeks() == {TOPIC: 113}


def test_a_genuine_gap_is_accepted_after_the_attempts_and_nothing_is_skipped() -> None:
    """Offset 113 holds no record (e.g. a transaction marker): reading again always starts at
    114; after three seeks 114 is applied, and the records after it are read again too."""
    gaps = OffsetGaps(settle_s=5.0, max_attempts=3)
    now = 0.0
    seeks = 0
    verdict = gaps.check(TOPIC, 114, 112, now)
    while verdict is GapVerdict.DROP:
        seeks += len(gaps.take_seeks())
        now += 6.0
        verdict = gaps.check(TOPIC, 114, 112, now)
        assert seeks <= 3
    assert seeks == 3
    assert gaps.check(TOPIC, 115, 114, now) is GapVerdict.APPLY


def test_forget_drops_the_state_of_a_revoked_partition() -> None:
    gaps = OffsetGaps()
    gaps.check(TOPIC, 147, 112, 0.0)
    gaps.forget(3)
    assert gaps.take_seeks() == {}
    assert gaps.check(TOPIC, 113, 112, 0.0) is GapVerdict.APPLY
