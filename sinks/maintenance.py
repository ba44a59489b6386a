"""Lake maintenance: compaction of small files, vacuum, checkpoints, history.

The sink commits every few seconds, so tables collect small files: compact them regularly
(it rewrites data, so it is a new version; readers pinned to older versions are unaffected until
vacuum). Vacuum keeps the table's retention (delta.deletedFileRetentionDuration, 7 days by
default) so time travel within it keeps working; only `feedbackctl lake erase --vacuum` goes
below it. Every operation opens the table through `Lake.open`, so a damaged table raises one
`DamagedTableError` line (`feedbackctl lake repair`, in `sinks.lake_repair`).

Checkpoints: delta-rs writes one after every `delta.checkpointInterval` commits (its default is
100). The sink commits every few seconds, so a reader opening a table replays up to 100 JSON
commits; the lake's tables carry an interval of `DEFAULT_CHECKPOINT_INTERVAL` (10) instead, set
when the sink creates a table and applied to existing ones when the sink opens them
(`FEEDBACK_SINK_CHECKPOINT_INTERVAL`).
"""

from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from sinks.lake import Lake
from sinks.lake_damage import translated_errors

__all__ = [
    "CHECKPOINT_INTERVAL_KEY",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "checkpoint",
    "checkpoint_configuration",
    "checkpoint_interval",
    "compact",
    "history",
    "set_checkpoint_interval",
    "vacuum",
]

CHECKPOINT_INTERVAL_KEY = "delta.checkpointInterval"
DEFAULT_CHECKPOINT_INTERVAL = 10
_DELTA_RS_DEFAULT_INTERVAL = 100
_ALTER_ATTEMPTS = 5


def checkpoint_configuration(interval: int) -> dict[str, str]:
    """The table property that makes delta-rs checkpoint every `interval` commits."""
    if interval < 1:
        raise ValueError(f"checkpoint interval must be at least 1 commit, not {interval}")
    return {CHECKPOINT_INTERVAL_KEY: str(interval)}


def checkpoint_interval(table: DeltaTable) -> int:
    """Commits between two checkpoints of `table` (delta-rs: 100 when the property is unset)."""
    value = table.metadata().configuration.get(CHECKPOINT_INTERVAL_KEY)
    return int(value) if value is not None else _DELTA_RS_DEFAULT_INTERVAL


def set_checkpoint_interval(table: DeltaTable, interval: int) -> bool:
    """Give an existing table the interval (one metadata commit); False when it already had it."""
    wanted = checkpoint_configuration(interval)
    for _ in range(_ALTER_ATTEMPTS):
        if checkpoint_interval(table) == interval:
            return False
        try:
            table.alter.set_table_properties(wanted, raise_if_not_exists=False)
            return True
        except CommitFailedError:  # a concurrent commit (another sink): reload, look again
            table.update_incremental()
    raise CommitFailedError(f"could not set {CHECKPOINT_INTERVAL_KEY} on {table.table_uri}")


def compact(lake: Lake, name: str, target_size: int | None = None) -> dict[str, Any]:
    """Merge small files into files of about `target_size` bytes (delta-rs default ~100 MB).

    A data file gone raises `DamagedTableError` (compaction reads every small file)."""
    table = lake.open(name)
    with translated_errors(lake, name, table.version()):
        return table.optimize.compact(target_size=target_size)


def vacuum(
    lake: Lake,
    name: str,
    retention_hours: int | None = None,
    dry_run: bool = True,
    full: bool = False,
) -> list[str]:
    """Files no version within the retention needs; deleted only when `dry_run` is False.

    `retention_hours` below the table's retention is refused (time travel would break).
    `full` also removes files no version references at all (left by a crashed write) once
    older than the retention.
    """
    return lake.open(name).vacuum(retention_hours=retention_hours, dry_run=dry_run, full=full)


def checkpoint(lake: Lake, name: str) -> int:
    """Write a checkpoint of the current version (faster opening); returns that version."""
    table = lake.open(name)
    table.create_checkpoint()
    return table.version()


def history(lake: Lake, name: str, limit: int | None = 20) -> list[dict[str, Any]]:
    """The latest commits, newest first: operation, time, metrics, writer."""
    return lake.open(name).history(limit)
