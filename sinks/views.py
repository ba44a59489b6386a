"""`turns` and `feedback`: Delta tables materialized from `enriched_interactions` by a command.

Why a command and not the sink: the sink only appends, and its exactly-once guarantee rests on
that (each commit carries the Kafka offsets of the rows it adds, docs/lake.md). A view with one
row per turn at its latest revision needs updates in place (a late revision replaces a row) and
a session-level feedback event arrives once per turn of its session: a sink maintaining it would
need MERGE commits whose conflicts with concurrent sinks and compaction break the append-only
reasoning. A command that rebuilds both views from one pinned version of `enriched_interactions`
keeps the sink untouched and makes every view version reproducible: the commit records the source
version (`views_source_version`), and a run when the source has not moved writes nothing.

Freshness: the views are as fresh as their last `feedbackctl lake views` run (schedule it, e.g.
every few minutes, like `compact`); `materialize_views` says which source version they show.
They are copies of personal data: `lake erase` rebuilds them (`refresh_after_erasure`).
"""

from dataclasses import dataclass

import polars as pl
from deltalake import CommitProperties, write_deltalake

from schemas.lake import ENRICHED_INTERACTIONS
from sinks.lake import Lake
from sinks.lake_damage import check_data_files, translated_errors
from sinks.maintenance import DEFAULT_CHECKPOINT_INTERVAL, checkpoint_configuration
from sinks.view_frames import feedback_frame, to_arrow, turns_frame

__all__ = [
    "FEEDBACK_VIEW",
    "SOURCE_VERSION_KEY",
    "TURNS_VIEW",
    "VIEW_NAMES",
    "ViewsResult",
    "materialize_views",
    "refresh_after_erasure",
    "views_source_version",
]

TURNS_VIEW = "turns"
FEEDBACK_VIEW = "feedback"
VIEW_NAMES: tuple[str, ...] = (TURNS_VIEW, FEEDBACK_VIEW)
SOURCE_VERSION_KEY = "views_source_version"


@dataclass(frozen=True)
class ViewsResult:
    """What a run did: the source version shown, rows per view, whether anything was written."""

    source_version: int
    rows: dict[str, int]
    written: bool


def views_source_version(lake: Lake) -> int | None:
    """The `enriched_interactions` version both views show (None: never built, or the two views
    disagree, e.g. after a run stopped between them)."""
    versions = set()
    for name in VIEW_NAMES:
        if not lake.exists(name):
            return None
        for commit in lake.open(name).history(1):
            versions.add(commit.get(SOURCE_VERSION_KEY))
    if len(versions) != 1:
        return None
    value = versions.pop()
    return int(value) if value is not None else None


def materialize_views(
    lake: Lake,
    version: int | None = None,
    force: bool = False,
    checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
) -> ViewsResult:
    """Rebuild `turns` and `feedback` from `enriched_interactions` at `version` (default: the
    latest). Nothing is written when both views already show that version, unless `force`."""
    source = lake.open(ENRICHED_INTERACTIONS.name, version)
    source_version = source.version()
    if not force and views_source_version(lake) == source_version:
        rows = {name: _row_count(lake, name) for name in VIEW_NAMES}
        return ViewsResult(source_version, rows, written=False)
    check_data_files(lake, ENRICHED_INTERACTIONS.name, source, time_travel=version is not None)
    with translated_errors(lake, ENRICHED_INTERACTIONS.name, source_version):
        arrow = source.to_pyarrow_table()
    enriched = pl.from_arrow(arrow)
    assert isinstance(enriched, pl.DataFrame)
    frames = {TURNS_VIEW: turns_frame(enriched), FEEDBACK_VIEW: feedback_frame(enriched)}
    metadata = {SOURCE_VERSION_KEY: str(source_version), "views_source": source.table_uri}
    for name, frame in frames.items():
        write_deltalake(
            lake.path(name),
            to_arrow(frame),
            mode="overwrite",
            schema_mode="overwrite",
            partition_by=["event_date"],
            name=name,
            configuration=checkpoint_configuration(checkpoint_interval),
            storage_options=lake.storage_options or None,
            commit_properties=CommitProperties(custom_metadata=metadata),
        )
    return ViewsResult(source_version, {n: f.height for n, f in frames.items()}, written=True)


def refresh_after_erasure(lake: Lake, vacuum: bool) -> int:
    """After `lake erase`: rebuild the views that exist from the erased source, so their latest
    versions hold none of the erased rows; with `vacuum`, delete their older files at once
    (retention 0, like the erasure's own `--vacuum`). Returns the files vacuumed."""
    if not any(lake.exists(name) for name in VIEW_NAMES):
        return 0
    materialize_views(lake, force=True)
    if not vacuum:
        return 0
    removed = 0
    for name in VIEW_NAMES:
        table = lake.open(name)
        removed += len(
            table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
        )
    return removed


def _row_count(lake: Lake, name: str) -> int:
    return int(lake.open(name).to_pyarrow_dataset().count_rows())
