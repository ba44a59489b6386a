"""After a demo, lake / curate / dashboard read its namespace when none is given, and say so."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from feedbackctl.demo.last_namespace import read_last_namespace, write_last_namespace

FEEDBACKCTL = Path(sys.executable).parent / "feedbackctl"
REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture()
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEEDBACK_STACK_STATE_DIR", str(tmp_path / "stack"))
    for name in ("FEEDBACK_NAMESPACE", "FEEDBACK_SINK_NAMESPACE", "FEEDBACK_CURATION_LAKE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "stack"


def _run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FEEDBACKCTL), *arguments],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},  # run from another folder
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_written_and_read_back(state_dir: Path) -> None:
    assert read_last_namespace() is None
    path = write_last_namespace("demo-20261204-120000")
    assert path == state_dir / "last-namespace"
    assert read_last_namespace() == "demo-20261204-120000"


def test_lake_and_curate_default_to_it_saying_so(state_dir: Path, tmp_path: Path) -> None:
    write_last_namespace("demo-x")
    lake = _run("lake", "history", "raw_events", "--lake-uri", "lk", cwd=tmp_path)
    assert "namespace demo-x: the last demo's" in lake.stderr
    assert "lk/demo-x/raw_events" in lake.stdout  # no table there: the error names the path
    curate = _run("curate", "sft", "--lake-uri", "lk", cwd=tmp_path)
    assert "namespace demo-x: the last demo's" in curate.stderr
    assert "lk/demo-x/enriched_interactions" in curate.stdout.replace("\n", "")


def test_an_explicit_namespace_wins_silently(state_dir: Path, tmp_path: Path) -> None:
    write_last_namespace("demo-x")
    for arguments in (
        ("lake", "history", "raw_events", "--lake-uri", "lk", "--namespace", "mine"),
        ("--namespace", "mine", "lake", "history", "raw_events", "--lake-uri", "lk"),
    ):
        result = _run(*arguments, cwd=tmp_path)
        assert "last demo" not in result.stderr
        assert "lk/mine/raw_events" in result.stdout


def test_the_old_curate_prefix_still_works_with_a_warning(state_dir: Path, tmp_path: Path) -> None:
    result = _run("curate", "sft", "--lake-uri", "lk", "--prefix", "old/", cwd=tmp_path)
    assert "--prefix NAME/ is deprecated" in result.stderr
    assert "lk/old/enriched_interactions" in result.stdout.replace("\n", "")
