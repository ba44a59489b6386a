"""`feedbackctl --namespace / --bootstrap-servers / --log-format ...` before any command."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from feedbackctl.main import app
from plumbing.logs import JsonFormatter

FEEDBACKCTL = Path(sys.executable).parent / "feedbackctl"
REPOSITORY = Path(__file__).resolve().parents[3]


def _run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_")}
    env["FEEDBACK_STACK_STATE_DIR"] = str(cwd / "stack")  # no last demo here
    env["PYTHONPATH"] = str(REPOSITORY)
    return subprocess.run(
        [str(FEEDBACKCTL), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_global_namespace_reaches_the_command(tmp_path: Path) -> None:
    result = _run(
        "--namespace", "n1", "lake", "history", "raw_events", "--lake-uri", "lk", cwd=tmp_path
    )
    assert "lk/n1/raw_events" in result.stdout
    assert "last demo" not in result.stderr


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    result = _run("--log-format", "xml", "stack", "status", cwd=tmp_path)
    assert result.returncode == 2
    assert "--log-format" in result.stderr


def test_log_options_configure_every_command(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    unset: dict[str, str | None] = {"FEEDBACK_LOG_FORMAT": None, "FEEDBACK_LOG_LEVEL": None}
    try:
        result = CliRunner().invoke(
            app,
            [
                "--log-format",
                "json",
                "--log-level",
                "debug",
                "lake",
                "history",
                "raw_events",
                "--lake-uri",
                str(tmp_path / "lk"),
                "--namespace",
                "n",
            ],
            env=unset,  # restored afterwards: the options set them for the processes started
        )
        assert "raw_events" in result.output
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:], root.level = handlers, level
