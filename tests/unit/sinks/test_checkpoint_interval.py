"""Checkpoints every N commits: the sink's tables carry `delta.checkpointInterval`."""

from pathlib import Path

import pytest
from deltalake import DeltaTable

from schemas.lake import QUALITY_METRICS
from sinks.delta_writer import LakeTableWriter
from sinks.maintenance import (
    DEFAULT_CHECKPOINT_INTERVAL,
    checkpoint_configuration,
    checkpoint_interval,
)
from tests.unit.sinks.test_delta_writer import TOPIC, rows


def _checkpoints(lake: Path) -> list[int]:
    log = Path(QUALITY_METRICS.path(str(lake))) / "_delta_log"
    return sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet"))


def test_a_new_table_checkpoints_every_ten_commits_by_default(tmp_path: Path) -> None:
    sink = LakeTableWriter(QUALITY_METRICS, str(tmp_path), "", "sink-a")
    for offset in range(25):
        sink.append(rows(0, range(offset, offset + 1)), {(TOPIC, 0): offset})
    assert checkpoint_interval(sink.delta) == DEFAULT_CHECKPOINT_INTERVAL == 10
    # Versions 0 (create) .. 25: delta-rs checkpoints when (version + 1) is a multiple of 10.
    assert _checkpoints(tmp_path) == [9, 19]


def test_an_existing_table_gets_the_configured_interval_when_the_sink_opens_it(
    tmp_path: Path,
) -> None:
    LakeTableWriter(QUALITY_METRICS, str(tmp_path), "", "sink-a", checkpoint_interval=100).append(
        rows(0, range(0, 1)), {(TOPIC, 0): 0}
    )
    assert checkpoint_interval(DeltaTable(QUALITY_METRICS.path(str(tmp_path)))) == 100
    sink = LakeTableWriter(QUALITY_METRICS, str(tmp_path), "", "sink-a", checkpoint_interval=3)
    for offset in range(1, 8):
        sink.append(rows(0, range(offset, offset + 1)), {(TOPIC, 0): offset})
    delta = DeltaTable(QUALITY_METRICS.path(str(tmp_path)))
    assert checkpoint_interval(delta) == 3
    assert _checkpoints(tmp_path) == [2, 5, 8]
    assert delta.transaction_version(f"sink-a-{TOPIC}-0") == 7  # offsets untouched


def test_an_interval_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        checkpoint_configuration(0)
