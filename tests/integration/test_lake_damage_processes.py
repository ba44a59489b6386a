"""A damaged lake through the real processes: `feedbackctl lake query` exits 1 with one line (not
a trace, not SIGABRT from a half-finished pyarrow scan), and `feedbackctl sink` on a broken log
exits 65 with one line before it consumes anything."""

import os
import subprocess
import sys
from pathlib import Path

from schemas.lake import QUALITY_METRICS
from schemas.topics import METRICS
from sinks.delta_writer import LakeTableWriter
from sinks.exceptions import DamagedTableError
from tests.unit.sinks.test_lake_reader import metrics_rows

TABLE = QUALITY_METRICS.name
FEEDBACKCTL = [sys.executable, "-m", "feedbackctl"]


def write_table(lake: Path, namespace: str) -> Path:
    writer = LakeTableWriter(QUALITY_METRICS, str(lake), f"{namespace}/", "sink")
    for batch in range(3):
        offsets = range(batch * 4, batch * 4 + 4)
        writer.append(metrics_rows(offsets), {(METRICS.name, 0): offsets[-1]})
    return lake / namespace / TABLE


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEEDBACK_PURE_PYTHON": "1"}
    return subprocess.run(
        [*FEEDBACKCTL, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_query_of_a_missing_file_exits_1_every_time(tmp_path: Path) -> None:
    table = write_table(tmp_path, "ns")
    victim = sorted(table.rglob("*.parquet"))[0]
    victim.unlink()
    for _ in range(5):  # the abort of an interrupted scan was intermittent
        done = run("lake", "query", TABLE, "--lake-uri", str(tmp_path), "--namespace", "ns")
        assert done.returncode == 1, done.stderr[-2000:]
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1 and victim.name in lines[0], done.stdout
        assert "Traceback" not in done.stderr


def test_sink_on_a_broken_log_exits_65(tmp_path: Path, bootstrap_servers: str) -> None:
    table = write_table(tmp_path, "damaged")
    entry = table / "_delta_log" / f"{3:020d}.json"
    entry.write_text("{not json")
    done = run(
        "sink",
        "--lake-uri",
        str(tmp_path),
        "--namespace",
        "damaged",
        "--bootstrap-servers",
        bootstrap_servers,
        "--exit-when-idle",
        "1",
    )
    assert done.returncode == DamagedTableError.exit_code == 65, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    assert len(errors) == 1 and "ERROR" in errors[0], errors
    assert f"damaged/{TABLE}" in errors[0] and entry.name in errors[0]
    assert "feedbackctl lake repair" in errors[0]
    assert entry.read_text() == "{not json"  # the sink never wrote past it
