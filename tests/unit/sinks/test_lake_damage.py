"""Damaged lake tables through `feedbackctl lake` (in process): one line naming the table, the
version, the file and the repair command; `lake repair` fixes a missing data file and prints the
procedure for a broken log entry. Real Delta tables on disk, written by the sink's writer."""

from pathlib import Path

import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas.lake import QUALITY_METRICS
from schemas.topics import METRICS
from sinks.delta_writer import LakeTableWriter
from sinks.exceptions import BrokenLogError, DamagedTableError, VacuumedVersionError
from sinks.lake import Lake
from sinks.lake_reader import read_table
from tests.unit.sinks.test_lake_reader import metrics_rows

TABLE = QUALITY_METRICS.name


@pytest.fixture()
def lake_dir(tmp_path: Path) -> Path:
    """quality_metrics in namespace ns: versions 1-3, one append of 4 rows each."""
    writer = LakeTableWriter(QUALITY_METRICS, str(tmp_path), "ns/", "sink")
    for batch in range(3):
        offsets = range(batch * 4, batch * 4 + 4)
        writer.append(metrics_rows(offsets), {(METRICS.name, 0): offsets[-1]})
    return tmp_path


def table_dir(lake_dir: Path) -> Path:
    return lake_dir / "ns" / TABLE


def lake_cli(lake_dir: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        app, ["lake", *args, "--lake-uri", str(lake_dir), "--namespace", "ns"]
    )
    assert "Traceback" not in result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def data_files(lake_dir: Path) -> list[Path]:
    return sorted(table_dir(lake_dir).rglob("*.parquet"))


def log_files(lake_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (table_dir(lake_dir) / "_delta_log").iterdir()}


def test_missing_data_file_one_line_then_repair(lake_dir: Path) -> None:
    victim = data_files(lake_dir)[1]
    victim.unlink()

    for command in (["query", TABLE], ["compact", TABLE]):
        code, lines = lake_cli(lake_dir, *command)
        assert code == 1
        assert len(lines) == 1, lines
        assert f"ns/{TABLE}" in lines[0] and "version 3" in lines[0]
        assert victim.name in lines[0]
        assert f"feedbackctl lake repair {TABLE} --namespace ns" in lines[0]

    logs_before = log_files(lake_dir)
    code, lines = lake_cli(lake_dir, "repair", TABLE, "--dry-run")
    assert code == 1  # still damaged
    assert any(victim.name in line and "4 rows" in line for line in lines), lines
    assert any("agent.metrics.v1[0] offsets" in line for line in lines), lines
    assert log_files(lake_dir) == logs_before  # a dry run changes nothing

    code, lines = lake_cli(lake_dir, "repair", TABLE)
    assert code == 0, lines
    assert any("removed 1 missing data file" in line and "3 -> 4" in line for line in lines)
    assert any("4 rows are gone" in line and "Kafka" in line for line in lines), lines
    assert DeltaTable(str(table_dir(lake_dir))).history(1)[0]["operation"] == "FSCK"

    code, lines = lake_cli(lake_dir, "query", TABLE, "--columns", "kafka_offset")
    assert code == 0 and lines[-1] == "8 of 8 rows", lines
    code, lines = lake_cli(lake_dir, "repair", TABLE)
    assert code == 0 and "nothing to repair" in lines[-1]


def test_library_raises_the_same_error(lake_dir: Path) -> None:
    victim = data_files(lake_dir)[0]
    victim.unlink()
    with pytest.raises(DamagedTableError) as caught:
        read_table(TABLE, lake=Lake(str(lake_dir), "ns/"))
    assert caught.value.version == 3 and caught.value.file is not None
    assert caught.value.file.endswith(victim.name)
    assert caught.value.hint.startswith(f"feedbackctl lake repair {TABLE}")


def test_corrupt_latest_log_entry_one_line_and_procedure(lake_dir: Path) -> None:
    entry = table_dir(lake_dir) / "_delta_log" / f"{3:020d}.json"
    entry.write_text('{"add": {"path": "event_date=2026-01-01/part-0')  # a torn write

    for command in (["query", TABLE], ["history", TABLE], ["checkpoint", TABLE]):
        code, lines = lake_cli(lake_dir, *command)
        assert code == 1
        assert len(lines) == 1, lines
        assert f"ns/{TABLE}" in lines[0] and "version 3" in lines[0]
        assert f"_delta_log/{entry.name}" in lines[0]
        assert "feedbackctl lake repair" in lines[0]

    # Versions before the broken commit stay readable.
    code, lines = lake_cli(lake_dir, "query", TABLE, "--version", "2")
    assert code == 0 and lines[-1] == "8 of 8 rows"

    logs_before = log_files(lake_dir)
    code, lines = lake_cli(lake_dir, "repair", TABLE)
    assert code == 1
    text = "\n".join(lines)
    assert "latest commit" in text and f"mv {entry}" in text and "version 2" in text
    assert "nothing changed" in lines[-1]
    assert log_files(lake_dir) == logs_before

    # The documented procedure works: move the entry out, the table reads at version 2.
    entry.rename(lake_dir / entry.name)
    code, lines = lake_cli(lake_dir, "query", TABLE)
    assert code == 0 and lines[-1] == "8 of 8 rows"


def test_corrupt_middle_log_entry_is_not_dropped(lake_dir: Path) -> None:
    entry = table_dir(lake_dir) / "_delta_log" / f"{2:020d}.json"
    entry.write_bytes(b"\x00\xff garbage")
    with pytest.raises(BrokenLogError) as caught:
        Lake(str(lake_dir), "ns/").open(TABLE)
    assert caught.value.version == 2
    code, lines = lake_cli(lake_dir, "repair", TABLE)
    text = "\n".join(lines)
    assert code == 1 and "do not delete" in text and "--version 1" in text
    assert entry.exists()


def test_time_travel_to_a_vacuumed_version(lake_dir: Path) -> None:
    table = DeltaTable(str(table_dir(lake_dir)))
    table.optimize.compact()  # version 4 rewrites the three files into one
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    code, lines = lake_cli(lake_dir, "query", TABLE, "--version", "2")
    assert code == 1
    assert lines == [
        f"error: version 2 of ns/{TABLE} was vacuumed: its files are gone; "
        "the oldest readable version is 4"
    ]
    with pytest.raises(VacuumedVersionError):
        read_table(TABLE, version=3, lake=Lake(str(lake_dir), "ns/"))
    code, lines = lake_cli(lake_dir, "query", TABLE, "--version", "4")
    assert code == 0 and lines[-1] == "12 of 12 rows"


def test_version_past_the_latest(lake_dir: Path) -> None:
    code, lines = lake_cli(lake_dir, "query", TABLE, "--version", "99")
    assert code == 1 and lines == [f"error: ns/{TABLE} has no version 99; the latest is 3"]
