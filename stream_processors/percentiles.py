"""A deterministic, mergeable sample for percentiles: the bottom-k of a hash of the event id.

Each value is kept with a 63-bit hash of its event id; a sample keeps the `k` entries with the
smallest hashes. The result depends only on the set of (event_id, value) pairs, never on
arrival order or on how partial samples were merged, so a replay gives the same percentiles.
With at most `k` values the percentiles are exact; above, they are estimated from a uniform
random subset of size `k` (the hash acts as a seeded random choice).

Percentile method: nearest rank on the sorted sample (`ceil(q * n)`-th smallest value).
"""

import hashlib
import math
from collections.abc import Iterable

__all__ = ["BottomKSample", "event_hash"]


# Copying an initialised state is cheaper than setting one up with its digest size each time.
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def event_hash(event_id: str) -> int:
    """A stable 63-bit hash of an event id (blake2b; Python's hash() is salted per process)."""
    state = _BLAKE2B_8.copy()
    state.update(event_id.encode())
    return int.from_bytes(state.digest(), "big") >> 1


class BottomKSample:
    """The `k` (hash, value) pairs with the smallest hashes seen so far."""

    def __init__(self, k: int, entries: Iterable[tuple[int, float]] = ()) -> None:
        self.k = k
        self._values: dict[int, float] = dict(entries)
        # Once `k` hashes were kept, a larger hash can never be among the k smallest.
        self._above: int | None = None
        self._trim()

    def add(self, event_id: str, value: float) -> None:
        self.add_hashed(event_hash(event_id), value)

    def add_hashed(self, hashed: int, value: float) -> None:
        if self._above is not None and hashed > self._above:
            return
        self._values.setdefault(hashed, value)
        if len(self._values) >= 2 * self.k:
            self._trim()

    def _trim(self) -> None:
        if len(self._values) > self.k:
            keep = sorted(self._values)[: self.k]
            self._values = {h: self._values[h] for h in keep}
            self._above = keep[-1] if keep else -1

    def merge(self, other: "BottomKSample") -> "BottomKSample":
        """A new sample of both (same result in any merge order)."""
        merged = BottomKSample(min(self.k, other.k))
        merged._values = {**other._values, **self._values}
        merged._trim()
        return merged

    def entries(self) -> list[tuple[int, float]]:
        """(hash, value) pairs sorted by hash: a canonical form for state and comparison."""
        self._trim()
        return sorted(self._values.items())

    def __len__(self) -> int:
        return min(len(self._values), self.k)

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (q in (0, 1]); None for an empty sample."""
        self._trim()
        if not self._values:
            return None
        values = sorted(self._values.values())
        rank = max(1, math.ceil(q * len(values)))
        return float(values[rank - 1])
