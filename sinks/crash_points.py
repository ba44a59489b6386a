"""Test hook: make the sink SIGKILL itself at a chosen point, to prove exactly-once on restart.

Set FEEDBACK_SINK_CRASH_AT=<point>[:<n>] to die at the n-th time (default 1st) the sink reaches
<point>. Points:
- `before_write`: a micro-batch is converted, nothing of it written.
- `during_write`: as soon as the first new data file of a commit appears in the table directory,
  i.e. Parquet being written or written, the Delta commit not yet made. A write that creates no
  file (only offsets to record) or whose commit lands before the watch sees its file does not
  count: the next write is watched instead.
- `after_commit`: one table committed, the next tables and the Kafka offsets not.
Unset in production; reading it costs one dict lookup per commit.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Callable
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


def watch_for_new_files(table_dir: str) -> Callable[[], None] | None:
    """For `during_write`: a watcher process (`crash_watch.py`) that kills the sink when a data
    file appears under `table_dir` while the table's Delta log has no new commit.

    Returns the function to call once the write returned (it ends the watch), or None when not
    armed. A write that returns was not crashed (it wrote no file, or its commit beat the watch),
    so it does not count and the next write is watched instead. Only local tables can be watched.
    """
    if not _armed("during_write"):
        return None
    watcher = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("crash_watch.py")),
            table_dir,
            str(os.getpid()),
        ],
        stdout=subprocess.PIPE,
    )
    assert watcher.stdout is not None
    watcher.stdout.readline()  # "ready": it has seen the files as they were before the write

    def write_returned() -> None:
        watcher.kill()
        watcher.wait()
        _hits["during_write"] -= 1

    return write_returned
