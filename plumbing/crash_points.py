"""Test hooks: a process SIGKILLs itself at a chosen point of its work, so that tests can prove
what a restart recovers (no library kills a process at a named line of our code).

`<VARIABLE>=<point>[:<n>]` makes the process die the n-th time (default the 1st) it reaches
<point>. Unset in production; checking costs one dict lookup.
"""

import os
import signal

__all__ = ["CrashPoints"]


class CrashPoints:
    """The crash points of one process kind, armed by the environment variable `variable`."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self._hits: dict[str, int] = {}

    def armed(self, point: str) -> bool:
        """Whether this hit of `point` is the one to die at (counts the hit)."""
        spec = os.environ.get(self.variable)
        if not spec:
            return False
        name, _, nth = spec.partition(":")
        if name != point:
            return False
        self._hits[point] = self._hits.get(point, 0) + 1
        return self._hits[point] == int(nth or 1)

    def uncount(self, point: str) -> None:
        """Forget the last hit of `point` (it turned out not to be one: try the next)."""
        self._hits[point] -= 1

    def crash(self, point: str) -> None:
        """Die here when the variable names this point (and this is its n-th hit)."""
        if self.armed(point):
            os.kill(os.getpid(), signal.SIGKILL)
