"""`lake repair`: drop log references to missing data files, or say how to mend a broken log.

A missing data file is delta-rs's file-system check (`DeltaTable.repair`, an FSCK commit that
removes the file from the table): the table reads again, without that file's rows. What rows
were lost is told from the file's statistics in the log (Kafka lineage), so they can be re-sunk
from Kafka while it retains them, or backfilled. A missing or unparsable commit in `_delta_log`
is another matter: rewriting the log by guesswork could resurrect erased rows or drop offsets,
so `repair` only detects it and returns the procedure of docs/lake.md (Damaged tables).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from sinks.lake import Lake
from sinks.lake_damage import LogDamage, display_name, find_log_damage, translated_errors

__all__ = ["LostFile", "RepairReport", "log_procedure", "repair"]


@dataclass(frozen=True)
class LostFile:
    """A data file the log references but storage no longer has, and what it held."""

    path: str
    rows: int | None
    lineage: str  # Kafka topic, partitions, offsets and time range, from the log's statistics


@dataclass(frozen=True)
class RepairReport:
    """What `repair` did (or would do) to one table."""

    table: str
    dry_run: bool
    version_before: int | None = None
    version_after: int | None = None
    removed: list[LostFile] = field(default_factory=list)
    broken_log: LogDamage | None = None
    procedure: list[str] = field(default_factory=list)

    @property
    def rows_lost(self) -> int:
        return sum(item.rows or 0 for item in self.removed)


def repair(lake: Lake, name: str, dry_run: bool = False) -> RepairReport:
    """Remove the log's references to missing data files (`dry_run`: only list them).

    A broken log is not touched: the report carries the procedure instead.
    """
    damage = find_log_damage(lake, name)
    if damage is not None:
        return RepairReport(
            display_name(lake, name),
            dry_run,
            broken_log=damage,
            procedure=log_procedure(lake, name, damage),
        )
    table = lake.open(name)
    before = table.version()
    described = _describe_files(pa.table(table.get_add_actions(flatten=True)).to_pylist())
    with translated_errors(lake, name, before):
        result = table.repair(dry_run=dry_run)
    removed = [
        described.get(unquote(path), LostFile(unquote(path), None, ""))
        for path in result.get("files_removed", [])
    ]
    after = before if dry_run or not removed else lake.open(name).version()
    return RepairReport(display_name(lake, name), dry_run, before, after, removed)


def log_procedure(lake: Lake, name: str, damage: LogDamage) -> list[str]:
    """The steps that mend a broken commit, as lines to print (docs/lake.md, Damaged tables)."""
    table = display_name(lake, name)
    entry = f"{lake.path(name)}/{damage.file}"
    head = f"{table}: log entry {damage.file} (version {damage.version}) {damage.problem}."
    stop = "1. Stop every writer of the table (feedbackctl sink, lake compact / erase / vacuum)."
    if damage.version == damage.latest:
        return [
            head,
            "It is the latest commit: nothing depends on it, so it can be taken out of the log.",
            stop,
            f"2. Move it out of the table, keeping it for inspection: mv {entry} <backup-dir>/",
            f"   The table is back at version {damage.version - 1}.",
            f"3. Check: feedbackctl lake history {name} and feedbackctl lake query {name}.",
            "4. What that commit did is undone. A sink commit: its offsets went with it, so the "
            "restarted sink re-reads those messages from Kafka (while Kafka retains them). "
            "An erasure (lake erase): run it again. Its data files are now unreferenced: "
            f"feedbackctl lake vacuum {name} --full --no-dry-run removes them after the retention.",
        ]
    return [
        head,
        f"Versions {damage.version + 1}..{damage.latest} build on it: do not delete or edit it.",
        stop,
        "2. Restore the file byte for byte from a backup or the object store's versioning, "
        f"then check: feedbackctl lake history {name}.",
        f"3. Without a copy: versions before {damage.version} stay readable "
        f"(feedbackctl lake query {name} --version {damage.version - 1}). Rebuild the table: "
        f"move {lake.path(name)} aside and restart the sink, which recreates it from Kafka "
        "(as far as Kafka retains); older raw events: feedbackctl backfill --from-lake from "
        "the moved copy. See docs/lake.md, Damaged tables.",
    ]


def _describe_files(actions: list[dict[str, Any]]) -> dict[str, LostFile]:
    """Each data file's rows and Kafka lineage, from its statistics in the log."""
    return {
        unquote(action["path"]): LostFile(
            unquote(action["path"]), action.get("num_records"), _lineage(action)
        )
        for action in actions
    }


def _lineage(action: dict[str, Any]) -> str:
    """`agent.interactions.v1[0] offsets 100-1333, Kafka time 2026-...Z..2026-...Z`."""
    topic_low, topic_high = action.get("min.kafka_topic"), action.get("max.kafka_topic")
    if topic_low is None:
        return ""
    topics = topic_low if topic_low == topic_high else f"{topic_low}..{topic_high}"
    part_low, part_high = action.get("min.kafka_partition"), action.get("max.kafka_partition")
    parts = f"{part_low}" if part_low == part_high else f"{part_low}-{part_high}"
    text = (
        f"{topics}[{parts}] offsets {action.get('min.kafka_offset')}-"
        f"{action.get('max.kafka_offset')}"
    )
    low, high = action.get("min.kafka_timestamp"), action.get("max.kafka_timestamp")
    if isinstance(low, datetime) and isinstance(high, datetime):
        text += f", Kafka time {_iso(low)}..{_iso(high)}"
    return text


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
