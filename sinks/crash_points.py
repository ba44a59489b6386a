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
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from plumbing.crash_points import CrashPoints

__all__ = ["CRASH_ENV", "crash_point", "watch_for_new_files"]

CRASH_ENV = "FEEDBACK_SINK_CRASH_AT"
_POINTS = CrashPoints(CRASH_ENV)
crash_point = _POINTS.crash


def watch_for_new_files(table_dir: str) -> Callable[[], None] | None:
    """For `during_write`: a watcher process (`crash_watch.py`) that kills the sink when a data
    file appears under `table_dir` while the table's Delta log has no new commit.

    Returns the function to call once the write returned (it ends the watch), or None when not
    armed. A write that returns was not crashed (it wrote no file, or its commit beat the watch),
    so it does not count and the next write is watched instead. Only local tables can be watched.
    """
    if not _POINTS.armed("during_write"):
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
        _POINTS.uncount("during_write")

    return write_returned
