"""The dashboard state shared between the feed thread and the web service, behind one lock."""

import threading
from collections.abc import Callable
from typing import Any

from dashboard.state import DashboardState

__all__ = ["LiveState"]


class LiveState:
    """Serialises updates from the feed thread; snapshots are built once per state version."""

    def __init__(self, state: DashboardState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._cached: tuple[int, dict[str, Any]] | None = None

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

    def snapshot(self) -> dict[str, Any]:
        """The current snapshot; the same dict until the state changes (do not mutate it)."""
        with self._lock:
            if self._cached is None or self._cached[0] != self._state.version:
                self._cached = (self._state.version, self._state.snapshot())
            return self._cached[1]
