"""The dashboard state shared between the feed thread and the web service, behind one lock."""

import threading
import time
from collections.abc import Callable
from typing import Any

from dashboard.state import DEFAULT_RANGE, LIVE_SLACK_MS, DashboardState

__all__ = ["LiveState"]


class LiveState:
    """Serialises updates from the feed thread; snapshots are built once per state version and
    range (and, for live traffic, once per minute of the wall clock: the view follows it)."""

    def __init__(self, state: DashboardState, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._clock = clock
        self._cached: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    def update(self, change: Callable[[DashboardState], object]) -> None:
        """Apply `change` to the state under the lock."""
        with self._lock:
            change(self._state)

    @property
    def version(self) -> int:
        return self._state.version

    @property
    def windows(self) -> int:
        return len(self._state.windows)

    @property
    def horizon_end_ms(self) -> int | None:
        return self._state.horizon_end_ms

    def snapshot(self, range_name: str = DEFAULT_RANGE) -> dict[str, Any]:
        """The current snapshot of one range; the same dict until the state changes or, for
        live traffic, the wall clock moves (do not mutate it)."""
        now_ms = int(self._clock() * 1000)
        with self._lock:
            key = (self._state.version, now_ms // LIVE_SLACK_MS)
            cached = self._cached.get(range_name)
            if cached is None or cached[0] != key:
                self._cached[range_name] = (key, self._state.snapshot(range_name, now_ms))
            return self._cached[range_name][1]

    def cache_key(self) -> tuple[int, int]:
        """Changes whenever a snapshot may change: the state's version, the clock's slot."""
        return (self._state.version, int(self._clock() * 1000) // LIVE_SLACK_MS)
