"""`feedbackctl monitor run` reads the lake before it connects to Kafka."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackctl import monitor_commands
from feedbackctl.main import app


def test_a_lake_that_cannot_be_read_is_reported_without_a_producer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[object] = []
    monkeypatch.setattr(monitor_commands, "AlertPublisher", lambda *a: created.append(a))
    result = CliRunner().invoke(
        app,
        ["monitor", "run", "--lake-uri", str(tmp_path / "no-lake"), "--bootstrap-servers", "x:9"],
    )
    assert result.exit_code == 1, result.output
    assert "error:" in result.output
    assert created == []
