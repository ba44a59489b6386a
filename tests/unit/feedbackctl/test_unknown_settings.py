"""`feedbackctl` refuses unknown FEEDBACK_* variables first, knowing every service."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackctl.main import app
from feedbackctl.settings_classes import SETTINGS_CLASSES
from plumbing.settings import ServiceSettings

FEEDBACKCTL = Path(sys.executable).parent / "feedbackctl"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_settings_class_of_the_project_is_wired() -> None:
    # Test-local subclasses (defined under tests/) are not services.
    project = {c for c in _subclasses(ServiceSettings) if not c.__module__.startswith("tests.")}
    assert project == set(SETTINGS_CLASSES)


def test_the_real_cli_exits_2_naming_the_variable_and_the_suggestion() -> None:
    env = {**os.environ, "FEEDBACK_SINK_FLUSH_LATENCYY_S": "2", "FEEDBACK_PURE_PYTHON": "1"}
    result = subprocess.run(
        [str(FEEDBACKCTL), "stack", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "FEEDBACK_SINK_FLUSH_LATENCYY_S: did you mean FEEDBACK_SINK_FLUSH_LATENCY_S?"
        in result.stderr
    )
    assert "service" not in result.stdout  # the command itself never ran


def test_every_command_is_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_PROCESSOR_KAFKA_CONFIG", "{}")
    result = CliRunner().invoke(app, ["lake", "history", "raw_events", "--lake-uri", "/nowhere"])
    assert result.exit_code == 2
    assert "FEEDBACK_PROCESSOR_KAFKA_CONFIG" in result.output
