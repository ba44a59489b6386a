"""Lake maintenance: compaction of small files, vacuum, checkpoints, history.

The sink commits every few seconds, so tables collect small files: compact them regularly
(it rewrites data, so it is a new version; readers pinned to older versions are unaffected until
vacuum). Vacuum keeps the table's retention (delta.deletedFileRetentionDuration, 7 days by
default) so time travel within it keeps working; only `feedbackctl lake erase --vacuum` goes
below it. Every operation opens the table through `Lake.open`, so a damaged table raises one
`DamagedTableError` line (`feedbackctl lake repair`, in `sinks.lake_repair`).
"""

from typing import Any

from sinks.lake import Lake
from sinks.lake_damage import translated_errors

__all__ = ["checkpoint", "compact", "history", "vacuum"]


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
