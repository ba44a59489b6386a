"""`feedbackctl`'s exit for lake readers: the command's code, its output, the exit handlers."""

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


def test_other_commands_exit_through_the_interpreter_with_their_code(tmp_path: Path) -> None:
    done = run_feedbackctl(
        """
        import atexit, sys
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
