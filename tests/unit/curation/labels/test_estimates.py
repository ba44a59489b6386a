"""The threshold for a target precision and the estimates with intervals."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from curation.labels import estimate_selection, precision_threshold

probabilities = st.lists(st.floats(0, 1), min_size=1, max_size=200).map(np.asarray)


@given(p=probabilities, target=st.floats(0.5, 0.99))
def test_the_threshold_keeps_the_largest_set_reaching_the_target(p, target):
    cut = precision_threshold(p, target)
    kept = p[p >= cut]
    if math.isinf(cut):
        assert p.max() < target
        return
    assert kept.mean() >= target - 1e-12
    below = p[p < cut]
    if below.size:  # the next turns (all those of the next probability) would break it
        more = np.concatenate([kept, below[below == below.max()]])
        assert more.mean() < target + 1e-12


def test_equal_probabilities_at_the_target_are_kept():
    # Their running mean is 0.9499999999999998 in floating point (found by the test above).
    assert precision_threshold(np.array([0.95, 0.95, 0.95]), 0.95) == 0.95


def test_nothing_reaches_an_impossible_target():
    assert math.isinf(precision_threshold(np.array([0.5, 0.6]), 0.97))
    assert math.isinf(precision_threshold(np.array([]), 0.97))


def test_estimates_and_intervals():
    everything = np.array([0.99] * 50 + [0.5] * 50 + [0.01] * 100)
    estimate = estimate_selection(np.array([0.99] * 50), everything, certain_rows=10)
    assert estimate.rows == 60
    assert math.isclose(estimate.precision, (0.99 * 50 + 10) / 60)
    low, high = estimate.precision_interval
    assert low < estimate.precision < high
    assert math.isclose(estimate.recall, 49.5 / (49.5 + 25 + 1))
    low, high = estimate.recall_interval
    assert 0 < low < estimate.recall < high < 1
