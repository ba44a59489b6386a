"""Token buckets per key: a burst is allowed, then the wait is said, keys apart."""

from gateway.limits import RateLimiter


def test_burst_then_a_wait_per_key() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=20)
    assert limiter.take("a", 20) == 0
    wait = limiter.take("a", 10)
    assert 0 < wait <= 1.0
    assert limiter.take("b", 5) == 0  # another key, its own bucket
    assert limiter.take("c", 21) == float("inf")  # larger than the bucket can ever hold
    assert limiter.take("d", 3, rate_per_s=1, burst=2) == float("inf")
