"""Per-key rate limits: a token bucket per API key, in this process.

Hand-written because it is a dozen lines on the event loop's thread (no lock needed) and the
libraries around (aiolimiter, limits) wait for capacity instead of telling the caller when to come
back, which is what a 429 with Retry-After needs. Each gateway replica limits on its own: the
limit of a key across N replicas behind a load balancer is up to N times the configured one.
"""

import math
import time
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`take(key, n)` spends n events from the key's bucket, or says how long to wait."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(
        self, key: str, events: int, rate_per_s: float | None = None, burst: int | None = None
    ) -> float:
        """0 when allowed (and spent); else the seconds after which the same call would be."""
        rate = rate_per_s or self.rate_per_s
        capacity = float(max(burst or self.burst, 1))
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if events <= bucket.tokens:
            bucket.tokens -= events
            return 0.0
        if events > capacity:  # never possible: wait as if the bucket could hold it
            return math.inf
        return (events - bucket.tokens) / rate
