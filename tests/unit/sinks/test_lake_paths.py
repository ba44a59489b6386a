"""The sink's settings, `Lake` and `feedbackctl lake` refuse a namespace outside the lake root,
even when a real Delta table sits there."""

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pydantic import ValidationError
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas.exceptions import LakePathError
from sinks.lake import Lake
from sinks.settings import SinkSettings


def test_sink_settings_refuse_a_namespace_with_dots_or_slashes() -> None:
    for namespace in ("../other", "/tmp/x", "a/b", ".."):
        with pytest.raises(ValidationError, match="plain name"):
            SinkSettings(namespace=namespace)
    assert SinkSettings(namespace="replay-1").table_prefix == "replay-1/"


def test_lake_refuses_a_prefix_or_table_outside_its_root() -> None:
    with pytest.raises(LakePathError):
        Lake("/data/lake", "../other/")
    with pytest.raises(LakePathError):
        Lake("/data/lake", "/etc/")
    with pytest.raises(LakePathError):
        Lake("/data/lake").path("../raw_events")
    assert Lake("/data/lake", "replay-1/").path("raw_events") == "/data/lake/replay-1/raw_events"


@pytest.mark.parametrize("namespace", ["../other", "../../outside/other"])
def test_cli_cannot_read_or_erase_a_table_outside_the_lake(tmp_path: Path, namespace: str) -> None:
    lake = tmp_path / "deep" / "lake"
    lake.mkdir(parents=True)
    outside = (lake / namespace / "raw_events").resolve()
    write_deltalake(str(outside), pa.table({"user_id": ["u-42"], "kafka_offset": [1]}))
    versions = sorted(p.name for p in (outside / "_delta_log").iterdir())
    runner = CliRunner()
    for args in (
        ["lake", "query", "raw_events"],
        ["lake", "erase", "--user-id", "u-42", "--vacuum"],
        ["lake", "compact", "raw_events"],
    ):
        result = runner.invoke(app, [*args, "--lake-uri", str(lake), "--namespace", namespace])
        assert result.exit_code == 1, result.output
        assert "plain name" in result.output
        assert "u-42" not in result.output.replace("--user-id u-42", "")
    assert sorted(p.name for p in (outside / "_delta_log").iterdir()) == versions
