"""`feedbackctl`'s exit without the native teardown: the command's code, its output, the exit
handlers."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def run_feedbackctl(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output buffered
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_verify_of_a_namespace_without_raw_events_fails_and_says_why(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "feedbackctl", "verify", "--namespace", "nowhere"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "no raw_events table in namespace nowhere" in done.stdout
    assert "no differences" not in done.stdout


def test_a_lake_reader_runs_the_exit_handlers_and_flushes_its_output(tmp_path: Path) -> None:
    done = run_feedbackctl(
        f"""
        import atexit, sys
        from pathlib import Path
        def handler():
            Path({str(tmp_path / "handler-ran")!r}).write_text("yes")
            print("handler ran", end="")  # buffered: a pipe is not a terminal
        atexit.register(handler)
        sys.argv = ["feedbackctl", "verify", "--namespace", "nowhere"]
        from feedbackctl.main import run
        run()
        """,
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "no raw_events table" in done.stdout
    assert done.stdout.endswith("handler ran")
    assert (tmp_path / "handler-ran").read_text() == "yes"


def test_every_command_ends_without_the_interpreters_teardown(tmp_path: Path) -> None:
    """Not only lake readers: `demo` reads the lake for its summary and aborted at exit in CI."""
    done = run_feedbackctl(
        """
        import atexit, os, sys

        class TornDown:  # the interpreter's teardown would destroy it; os._exit does not
            def __del__(self, write=os.write):
                write(1, b"torn down")

        marker = TornDown()
        atexit.register(lambda: print("handler ran"))
        sys.argv = ["feedbackctl", "topics", "--no-such-option"]
        from feedbackctl.main import run
        run()
        """,
        tmp_path,
    )
    assert done.returncode == 2
    assert "No such option" in done.stderr
    assert done.stdout.strip() == "handler ran"


def test_a_command_that_left_a_thread_running_exits_through_the_interpreter(
    tmp_path: Path,
) -> None:
    """`os._exit` would kill the thread mid-work; the interpreter's exit waits for it."""
    done = run_feedbackctl(
        """
        import os, sys, threading, time
        from feedbackctl.main import run

        def work(write=os.write):
            time.sleep(0.5)
            write(1, b"thread finished")

        threading.Thread(target=work).start()  # not a daemon thread: the exit waits for it
        sys.argv = ["feedbackctl", "topics", "--no-such-option"]
        run()
        """,
        tmp_path,
    )
    assert done.returncode == 2
    assert done.stdout.startswith("thread finished")
