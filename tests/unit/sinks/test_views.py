"""Materializing the views from a pinned version; an erasure leaves no copy in them."""

from pathlib import Path

import pyarrow.parquet as pq
from deltalake import DeltaTable

from sinks.lake import Lake
from sinks.maintenance import checkpoint_interval
from sinks.views import materialize_views, refresh_after_erasure, views_source_version
from tests.unit.curation.enriched_factory import feedback, make_turn, write_enriched


def _lake(root: Path) -> Lake:
    up = feedback("thumbs", thumbs_up=True, session_level=True, seed="up")
    write_enriched(root, [make_turn("s1", 0, feedback=[up]), make_turn("s1", 1, feedback=[up])])
    write_enriched(root, [make_turn("s2", 0, user_id="u-42", prompt="u-42 secret question")])
    return Lake(str(root))


def test_views_show_a_pinned_version_and_skip_a_rebuild_when_it_did_not_move(
    tmp_path: Path,
) -> None:
    lake = _lake(tmp_path)
    old = materialize_views(lake, version=0)
    assert (old.source_version, old.rows, old.written) == (0, {"turns": 2, "feedback": 1}, True)
    latest = materialize_views(lake)
    assert (latest.source_version, latest.rows["turns"]) == (1, 3)
    assert views_source_version(lake) == 1
    versions = DeltaTable(lake.path("turns")).version()
    again = materialize_views(lake)
    assert not again.written and again.rows == latest.rows
    assert DeltaTable(lake.path("turns")).version() == versions
    assert checkpoint_interval(lake.open("turns")) == 10


def test_an_erasure_rebuilds_the_views_and_vacuums_their_old_files(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    materialize_views(lake)
    DeltaTable(lake.path("enriched_interactions")).delete("user_id = 'u-42'")
    vacuumed = refresh_after_erasure(lake, vacuum=True)
    assert vacuumed > 0
    for name in ("turns", "feedback"):
        for path in Path(lake.path(name)).rglob("*.parquet"):
            table = pq.read_table(path)
            assert b"u-42" not in path.read_bytes(), path
            if "user_id" in table.column_names:
                assert "u-42" not in table["user_id"].to_pylist()
    assert lake.open("turns").to_pyarrow_table().num_rows == 2


def test_no_views_no_work(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    assert refresh_after_erasure(lake, vacuum=True) == 0
    assert not lake.exists("turns")
