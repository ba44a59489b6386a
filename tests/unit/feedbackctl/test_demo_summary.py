"""The demo's closing summary prints commands that run as printed (no activated virtualenv)."""

import io
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from feedbackctl.demo.summary import DemoSummary, print_summary
from producers.traffic import TrafficConfig, generate_traffic


def _printed_commands(summary: DemoSummary) -> list[str]:
    out = io.StringIO()
    truth = generate_traffic(TrafficConfig(sessions=2)).truth
    print_summary(Console(file=out, width=400), summary, truth, 10, "demo-x")
    return [line.strip() for line in out.getvalue().splitlines() if line.startswith("  ")]


def test_commands_name_this_interpreters_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = DemoSummary(paths={"quality_metrics": "lake/demo-x/quality_metrics"})
    folder = Path(sys.executable).parent
    monkeypatch.chdir(folder.parent)  # e.g. the repository, holding .venv/bin
    commands = _printed_commands(summary)
    assert len(commands) == 5
    for command in commands:
        program = command.split()[0]
        assert program.startswith(f"{folder.name}/"), command
        assert os.access(folder.parent / program, os.X_OK), command
    assert any("--namespace demo-x" in c and " verify " in c for c in commands)
    monkeypatch.chdir(tmp_path)  # elsewhere: absolute paths
    assert all(c.split()[0].startswith(str(folder)) for c in _printed_commands(summary))
