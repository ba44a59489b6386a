"""Test hook process: SIGKILL the sink between a Delta write's first data file and its commit.

    python sinks/crash_watch.py <table_dir> <sink_pid>

Started by `crash_points.watch_for_new_files` (run as a script, so it imports nothing of the
project and starts quickly). It notes the table's files and newest commit, prints `ready`, then
polls. When a new data file appears it stops the whole sink process (SIGSTOP: no thread of it
can commit meanwhile) and looks at the log again: no new commit means the crash lands mid-batch
(SIGKILL); a commit that got there first means it would not, so the sink goes on (SIGCONT).
A watch in a thread of the sink itself could not do this: between its look at the log and its
kill, the writer's commit could land.
"""

import os
import signal
import sys
import time
from pathlib import Path

POLL_S = 0.0002


def data_files(root: Path) -> set[str]:
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "_delta_log"]
        found.update(os.path.join(folder, name) for name in files)
    return found


def last_commit(root: Path) -> int:
    """Newest version in the table's Delta log (-1 before the first commit)."""
    log = (root / "_delta_log").glob("*.json")
    return max((int(entry.stem) for entry in log if entry.stem.isdigit()), default=-1)


def main() -> None:
    root, sink = Path(sys.argv[1]), int(sys.argv[2])
    before, commit = data_files(root), last_commit(root)
    print("ready", flush=True)
    while os.getppid() == sink:
        if data_files(root) - before:
            os.kill(sink, signal.SIGSTOP)
            if last_commit(root) == commit:
                os.kill(sink, signal.SIGKILL)
            else:
                os.kill(sink, signal.SIGCONT)
            return
        time.sleep(POLL_S)


if __name__ == "__main__":
    main()
