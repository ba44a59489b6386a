"""The watch over a real Delta table on disk: rules per agent, records, state across restarts."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from curation.dataset_ready import file_sha256
from curation.options import CurationOptions
from curation.watch import CurationWatch
from curation.watch_settings import WatchSettings
from producers.traffic import TrafficConfig
from tests.unit.curation.enriched_factory import write_enriched
from tests.unit.curation.generated_lake import enriched_rows


class Collected:
    """A record sink that keeps what it is given (the topic and webhook have their own tests)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def publish(self, records: list[dict[str, Any]], timeout_s: float = 30.0) -> int:
        self.records += records
        return len(records)


def _rows(sessions: int, seed: int) -> list[dict[str, Any]]:
    rows, _ = enriched_rows(TrafficConfig(sessions=sessions, seed=seed))
    for row in rows:
        row["event_date"] = dt.datetime.fromtimestamp(row["event_time"] / 1000, dt.UTC).date()
    return rows


@pytest.fixture(scope="module")
def batches() -> list[list[dict[str, Any]]]:
    rows = _rows(400, seed=21)
    middle = len(rows) // 2
    return [rows[:middle], rows[middle:]]


def _watch(
    lake: str, root: Path, sink: Collected, clock: list[float], **rule: Any
) -> CurationWatch:
    settings = WatchSettings(lake_uri=lake, output_root=str(root), **rule)
    return CurationWatch(settings, CurationOptions(), [sink], clock=lambda: clock[0])


def test_a_rule_that_holds_publishes_a_checkable_record_per_agent(
    lake: str, tmp_path: Path, batches: list[list[dict[str, Any]]]
) -> None:
    write_enriched(lake, batches[0])
    sink, clock = Collected(), [1000.0]
    watch = _watch(lake, tmp_path / "datasets", sink, clock, every_examples=1)
    records = watch.poll_once()
    assert records and records == sink.records
    agents = {r["agent_id"] for r in records}
    assert agents <= {"support-bot", "code-helper", "travel-planner"}
    for record in records:
        manifest_path = Path(record["manifest_path"])
        assert file_sha256(manifest_path) == record["manifest_sha256"]
        manifest = json.loads(manifest_path.read_text())
        assert record["output_sha256"] == manifest["output_sha256"]
        assert record["lake_versions"] == {"enriched_interactions": 0}
        assert record["agent_rows"] == record["new_rows"] > 0
        assert record["trigger"] == "new_examples"
        assert 0 <= record["estimated_quality"] <= 1
        for entry in manifest["files"]:
            assert file_sha256(manifest_path.parent / entry["path"]) == entry["sha256"]
    assert sum(r["agent_rows"] for r in records) == sum(
        count for name, count in records[0]["rows"].items() if name.startswith("sft-")
    )
    # Nothing new in the lake: nothing built, nothing published.
    assert watch.poll_once() == []
    assert len(sink.records) == len(records)


def test_below_the_threshold_nothing_is_published_and_the_build_is_removed(
    lake: str, tmp_path: Path, batches: list[list[dict[str, Any]]]
) -> None:
    write_enriched(lake, batches[0])
    sink, clock = Collected(), [1000.0]
    root = tmp_path / "datasets"
    watch = _watch(lake, root, sink, clock, every_examples=1_000_000)
    assert watch.poll_once() == []
    assert not list(root.rglob("manifest.json"))
    assert watch.state.checked_version == 0


def test_new_rows_count_from_the_last_published_dataset_and_survive_a_restart(
    lake: str, tmp_path: Path, batches: list[list[dict[str, Any]]]
) -> None:
    write_enriched(lake, batches[0])
    root = tmp_path / "datasets"
    sink, clock = Collected(), [1000.0]
    first = _watch(lake, root, sink, clock, every_examples=1).poll_once()
    before = {r["agent_id"]: r["agent_rows"] for r in first}
    write_enriched(lake, batches[1])
    # A restarted watch (new object, same output root) remembers what it published.
    restarted = _watch(lake, root, sink, clock, every_examples=1)
    second = restarted.poll_once()
    assert second and {r["lake_versions"]["enriched_interactions"] for r in second} == {1}
    for record in second:
        assert record["new_rows"] == record["agent_rows"] - before.get(record["agent_id"], 0)
        assert record["new_rows"] >= 1
    assert restarted.poll_once() == []


def test_the_interval_rule_publishes_new_rows_once_enough_time_passed(
    lake: str, tmp_path: Path, batches: list[list[dict[str, Any]]]
) -> None:
    write_enriched(lake, batches[0])
    root = tmp_path / "datasets"
    sink, clock = Collected(), [1000.0]
    rule = {"every_examples": None, "every_seconds": 3600.0}
    first = _watch(lake, root, sink, clock, **rule).poll_once()
    assert first and {r["trigger"] for r in first} == {"interval"}
    write_enriched(lake, batches[1])
    clock[0] += 60  # too soon: the new version is checked, nothing published
    assert _watch(lake, root, sink, clock, **rule).poll_once() == []
    write_enriched(lake, batches[1][:50])
    clock[0] += 3600
    later = _watch(lake, root, sink, clock, **rule).poll_once()
    assert later and {r["trigger"] for r in later} == {"interval"}


def test_only_the_named_agents_are_watched(
    lake: str, tmp_path: Path, batches: list[list[dict[str, Any]]]
) -> None:
    write_enriched(lake, batches[0])
    sink, clock = Collected(), [1000.0]
    watch = _watch(lake, tmp_path / "d", sink, clock, every_examples=1, agents=["code-helper"])
    assert {r["agent_id"] for r in watch.poll_once()} == {"code-helper"}


def test_a_missing_table_is_waited_for(lake: str, tmp_path: Path) -> None:
    sink, clock = Collected(), [1000.0]
    assert _watch(lake, tmp_path / "d", sink, clock, every_examples=1).poll_once() == []


def test_settings_refuse_no_rule_and_an_unsigned_webhook() -> None:
    with pytest.raises(ValueError, match="no rule"):
        WatchSettings(every_examples=None, every_seconds=None)
    with pytest.raises(ValueError, match="secret"):
        WatchSettings(webhook_url="http://127.0.0.1:9/hook")
