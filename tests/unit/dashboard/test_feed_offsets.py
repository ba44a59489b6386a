"""Where the feed starts reading a partition."""

import pytest

from dashboard.feed import start_offset


@pytest.mark.parametrize(
    ("low", "high", "by_time", "backfill", "expected"),
    [
        (0, 100, 90, 5, 90),  # wall-clock timestamps: the last hour reaches further back
        (0, 100, 98, 5, 95),  # the backfill reaches further back
        (0, 100, -1, 5, 95),  # nothing that recent (event-time stamps in the past): backfill
        (0, 100, None, 0, 100),  # nothing recent and no backfill: only new messages
        (40, 100, -1, 500, 40),  # never before the partition's first offset
        (0, 0, -1, 5, 0),  # empty partition
    ],
)
def test_start_offset_takes_the_older_bound(
    low: int, high: int, by_time: int | None, backfill: int, expected: int
) -> None:
    assert start_offset(low, high, by_time, backfill) == expected
