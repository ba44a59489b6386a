"""Test hook: make the sink SIGKILL itself at a chosen point, to prove exactly-once on restart.

Set FEEDBACK_SINK_CRASH_AT=<point>[:<n>] to die at the n-th time (default 1st) the sink reaches
<point>. Points:
- `before_write`: a micro-batch is converted, nothing of it written.
- `during_write`: as soon as the first new data file of a commit appears in the table directory,
  i.e. Parquet being written or written, the Delta commit not yet made.
- `after_commit`: one table committed, the next tables and the Kafka offsets not.
Unset in production; reading it costs one dict lookup per commit.
"""

import os
import signal
import threading
import time
from pathlib import Path

__all__ = ["CRASH_ENV", "crash_point", "watch_for_new_files"]

CRASH_ENV = "FEEDBACK_SINK_CRASH_AT"
_hits: dict[str, int] = {}


def _armed(point: str) -> bool:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return False
    name, _, nth = spec.partition(":")
    if name != point:
        return False
    _hits[point] = _hits.get(point, 0) + 1
    return _hits[point] == int(nth or 1)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(point: str) -> None:
    """Die here when the hook names this point (and this is its n-th hit)."""
    if _armed(point):
        _die()


def watch_for_new_files(table_dir: str) -> threading.Event | None:
    """For `during_write`: a thread that dies when a data file appears under `table_dir`.

    Returns an event to set once the write returned (the watch then ends), or None when not armed.
    Only local tables can be watched.
    """
    if not _armed("during_write"):
        return None
    root = Path(table_dir)
    before = set(_data_files(root))
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if any(path not in before for path in _data_files(root)):
                _die()
            time.sleep(0.0002)

    threading.Thread(target=watch, name="crash-watch", daemon=True).start()
    return done


def _data_files(root: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "_delta_log"]
        found.extend(os.path.join(folder, name) for name in files)
    return found
