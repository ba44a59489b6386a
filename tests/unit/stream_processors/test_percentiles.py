import random

from hypothesis import given
from hypothesis import strategies as st

from stream_processors.percentiles import BottomKSample, event_hash


def test_exact_nearest_rank_below_k() -> None:
    sample = BottomKSample(100)
    for i, value in enumerate([5, 1, 4, 2, 3]):
        sample.add(f"e{i}", value)
    assert sample.percentile(0.5) == 3
    assert sample.percentile(0.95) == 5
    assert sample.percentile(0.2) == 1
    assert BottomKSample(10).percentile(0.5) is None


def test_duplicates_count_once() -> None:
    sample = BottomKSample(10)
    sample.add("e", 1.0)
    sample.add("e", 1.0)
    assert len(sample) == 1


@given(st.lists(st.tuples(st.uuids(), st.integers(0, 10_000)), max_size=300), st.randoms())
def test_merge_is_order_independent(values: list, rnd: random.Random) -> None:
    items = [(str(u), float(v)) for u, v in values]
    whole = BottomKSample(32)
    for event_id, value in items:
        whole.add(event_id, value)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    cut = len(shuffled) // 2
    left, right = BottomKSample(32), BottomKSample(32)
    for event_id, value in shuffled[:cut]:
        left.add(event_id, value)
    for event_id, value in shuffled[cut:]:
        right.add(event_id, value)
    assert right.merge(left).entries() == whole.entries() == left.merge(right).entries()
    assert whole.percentile(0.95) == left.merge(right).percentile(0.95)


@given(st.lists(st.tuples(st.sampled_from(range(60)), st.integers(0, 99)), max_size=300))
def test_the_sample_is_the_k_smallest_hashes_with_their_first_value(values: list) -> None:
    """Also across trims, a restore from its entries, and hashes skipped as too large."""
    sample = BottomKSample(8)
    first: dict[int, float] = {}
    for number, (event, value) in enumerate(values):
        sample.add(f"e{event}", float(value))
        first.setdefault(event_hash(f"e{event}"), float(value))
        if number == len(values) // 2:
            sample = BottomKSample(8, sample.entries())
    assert sample.entries() == sorted(first.items())[:8]


def test_estimate_is_close_above_k() -> None:
    sample = BottomKSample(512)
    for i in range(20_000):
        sample.add(f"event-{i}", float(i))
    assert len(sample) == 512
    assert abs(sample.percentile(0.5) - 10_000) < 1_500
