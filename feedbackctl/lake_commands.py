"""`feedbackctl lake compact | vacuum | checkpoint | history | erase | query | repair | views`.

A damaged table (a data file gone, a broken log entry, a vacuumed version) ends any of them with
one line naming the table, version, file and repair command, and exit code 1 (`sinks.lake_damage`).
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from feedbackctl.erasure_report import datasets_root, print_erasure, propagate_erasure
from schemas.exceptions import LakePathError
from sinks.erasure import erase_user
from sinks.exceptions import LakeError
from sinks.lake import TABLE_NAMES, Lake
from sinks.lake_reader import dedupe, read_table
from sinks.lake_repair import RepairReport, repair
from sinks.maintenance import checkpoint, compact, history, vacuum
from sinks.settings import SINK_ENV_PREFIX, SinkSettings
from sinks.views import VIEW_NAMES, materialize_views, refresh_after_erasure

__all__ = ["lake_app"]

lake_app = typer.Typer(
    help="Maintain and read the Delta Lake tables the sink writes.", no_args_is_help=True
)
console = Console()

LAKE_URI = typer.Option(None, help=f"Lake root (env {SINK_ENV_PREFIX}LAKE_URI, default ./lake)")
NAMESPACE = typer.Option(
    None,
    help=f"Namespace of the tables (env {SINK_ENV_PREFIX}NAMESPACE or FEEDBACK_NAMESPACE; "
    "default: the last demo's)",
)
STORAGE = typer.Option(
    None, help=f"delta-rs storage options, JSON (env {SINK_ENV_PREFIX}STORAGE_OPTIONS)"
)
KNOWN_TABLES = (*TABLE_NAMES, *VIEW_NAMES)
TABLE_OR_ALL = typer.Argument("all", help=f"One of {', '.join(KNOWN_TABLES)}, or all.")


def _lake(lake_uri: str | None, namespace: str | None, storage_options: str | None) -> Lake:
    overrides: dict[str, Any] = {
        "lake_uri": lake_uri,
        "namespace": namespace,
        "storage_options": json.loads(storage_options) if storage_options else None,
    }
    try:
        settings = SinkSettings(**{k: v for k, v in overrides.items() if v is not None})
        return Lake.from_settings(settings)
    except ValidationError as exc:
        _fail(ValueError("; ".join(str(error["msg"]) for error in exc.errors())))
    except LakePathError as exc:
        _fail(exc)


def _tables(lake: Lake, table: str) -> list[str]:
    if table == "all":
        return [name for name in KNOWN_TABLES if lake.exists(name)]
    if table not in KNOWN_TABLES:
        raise typer.BadParameter(f"unknown table {table!r}; known: {', '.join(KNOWN_TABLES)}")
    return [table]


def _fail(exc: Exception) -> NoReturn:
    # One line, never wrapped to the terminal: scripts and tests read it whole.
    first_line = next(iter(str(exc).splitlines()), type(exc).__name__)
    console.print(f"[red]error:[/red] {escape(first_line)}", soft_wrap=True)
    raise typer.Exit(code=1)


@lake_app.command("compact")
def compact_command(
    table: str = TABLE_OR_ALL,
    target_size_mb: int | None = typer.Option(None, help="Target file size (default ~100 MB)."),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Merge the sink's small files into large ones (a new version; old files stay until vacuum)."""
    lake = _lake(lake_uri, namespace, storage_options)
    size = target_size_mb * 1024 * 1024 if target_size_mb else None
    for name in _tables(lake, table):
        try:
            metrics = compact(lake, name, size)
        except LakeError as exc:
            _fail(exc)
        console.print(
            f"{name}: {metrics.get('numFilesRemoved', 0)} files -> "
            f"{metrics.get('numFilesAdded', 0)}"
        )


@lake_app.command("vacuum")
def vacuum_command(
    table: str = TABLE_OR_ALL,
    retention_hours: int | None = typer.Option(
        None, help="Keep files needed by versions this recent (default: the table's, 7 days)."
    ),
    dry_run: bool = typer.Option(True, help="Only list the files (default); --no-dry-run deletes."),
    full: bool = typer.Option(False, help="Also remove unreferenced files (crashed writes)."),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Delete files older versions no longer need, keeping time travel within the retention."""
    lake = _lake(lake_uri, namespace, storage_options)
    for name in _tables(lake, table):
        try:
            files = vacuum(lake, name, retention_hours, dry_run, full)
        except Exception as exc:
            _fail(exc)
        verb = "would delete" if dry_run else "deleted"
        console.print(f"{name}: {verb} {len(files)} files")


@lake_app.command("checkpoint")
def checkpoint_command(
    table: str = TABLE_OR_ALL,
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Write a checkpoint so readers need not replay the whole log."""
    lake = _lake(lake_uri, namespace, storage_options)
    for name in _tables(lake, table):
        try:
            version = checkpoint(lake, name)
        except LakeError as exc:
            _fail(exc)
        console.print(f"{name}: checkpoint at version {version}")


@lake_app.command("history")
def history_command(
    table: str = typer.Argument(..., help=f"One of {', '.join(KNOWN_TABLES)}."),
    limit: int = typer.Option(20, help="Newest commits to show."),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """List the latest commits of a table."""
    lake = _lake(lake_uri, namespace, storage_options)
    try:
        commits = history(lake, _tables(lake, table)[0], limit)
    except LakeError as exc:
        _fail(exc)
    out = Table("version", "time (UTC)", "operation", "rows added", "writer")
    for commit in commits:
        metrics = commit.get("operationMetrics", {})
        when = datetime.fromtimestamp(commit["timestamp"] / 1000, UTC)
        writer = commit.get("sink_host", "")
        if writer:
            writer = f"{writer}:{commit.get('sink_pid', '')}"
        out.add_row(
            str(commit["version"]),
            when.strftime("%Y-%m-%d %H:%M:%S"),
            commit.get("operation", ""),
            str(metrics.get("num_added_rows", "")),
            writer,
        )
    console.print(out)


@lake_app.command("erase")
def erase_command(
    user_id: str = typer.Option(..., help="Pseudonymous user id whose data must go."),
    vacuum_now: bool = typer.Option(
        False,
        "--vacuum",
        help="Also delete the replaced files at once (retention 0): the bytes are really gone, "
        "and time travel to earlier versions ends.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list what would go, by table and count; write nothing."
    ),
    datasets: Path | None = typer.Option(
        None,
        "--datasets",
        help="Curated datasets to rewrite without the user's rows "
        "(env FEEDBACK_CURATION_OUTPUT_ROOT, default out/datasets).",
    ),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Delete a user's rows from every table, record it in the ledger, purge curated datasets,
    and say where copies remain (Kafka topics) and until when."""
    lake = _lake(lake_uri, namespace, storage_options)
    try:
        report = erase_user(lake, user_id, vacuum=vacuum_now, dry_run=dry_run)
        purged = propagate_erasure(report, lake, user_id, datasets_root(datasets))
        # The views are copies of enriched_interactions: rebuilt from the erased table.
        views_vacuumed = 0 if dry_run else refresh_after_erasure(lake, vacuum_now)
    except LakeError as exc:
        _fail(exc)
    print_erasure(console, report, lake, purged)
    if not dry_run and any(lake.exists(name) for name in VIEW_NAMES):
        vacuumed = f", {views_vacuumed} old view files vacuumed" if vacuum_now else ""
        console.print(f"views turns and feedback rebuilt without the erased rows{vacuumed}")


@lake_app.command("query")
def query_command(
    table: str = typer.Argument(..., help=f"One of {', '.join(KNOWN_TABLES)}."),
    version: int | None = typer.Option(None, help="Table version to read (time travel)."),
    as_of: str | None = typer.Option(None, help="Read the table as of this ISO-8601 time."),
    columns: str | None = typer.Option(None, help="Comma-separated columns."),
    limit: int = typer.Option(20, help="Rows to print."),
    dedupe_rows: bool = typer.Option(False, "--dedupe", help="Drop repeated records."),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Print rows of a table, at its latest version or at a version / time."""
    lake = _lake(lake_uri, namespace, storage_options)
    wanted = [c.strip() for c in columns.split(",")] if columns else None
    try:
        data = read_table(_tables(lake, table)[0], version, as_of, wanted, lake=lake)
    except (LakeError, ValueError) as exc:
        _fail(exc)
    if dedupe_rows and table not in VIEW_NAMES:  # the views hold no duplicates
        data = dedupe(data, table)
    total = data.num_rows
    frame = pl.from_arrow(data.slice(0, limit))
    with pl.Config(tbl_rows=limit, fmt_str_lengths=40, tbl_width_chars=160):
        console.print(str(frame))
    console.print(f"{min(limit, total)} of {total} rows")


@lake_app.command("views")
def views_command(
    version: int | None = typer.Option(
        None, help="Version of enriched_interactions to show (default: the latest)."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the source has not moved."),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Rebuild the `turns` and `feedback` tables from enriched_interactions (docs/lake.md,
    Views): one row per turn at its latest revision, one row per feedback event."""
    lake = _lake(lake_uri, namespace, storage_options)
    try:
        interval = SinkSettings().checkpoint_interval
        result = materialize_views(lake, version, force, interval)
    except LakeError as exc:
        _fail(exc)
    state = "rebuilt" if result.written else "already current"
    counts = ", ".join(f"{name} {rows} rows" for name, rows in result.rows.items())
    console.print(f"views {state}: enriched_interactions version {result.source_version}; {counts}")


@lake_app.command("repair")
def repair_command(
    table: str = TABLE_OR_ALL,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list the missing files; change nothing."
    ),
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    storage_options: str | None = STORAGE,
) -> None:
    """Remove log references to data files that are gone (delta-rs file-system check); for a
    broken log entry, print the procedure instead. Exit 1 while a table stays damaged."""
    lake = _lake(lake_uri, namespace, storage_options)
    still_damaged = False
    for name in _tables(lake, table):
        try:
            report = repair(lake, name, dry_run=dry_run)
        except LakeError as exc:
            _fail(exc)
        _print_repair(report)
        still_damaged |= report.broken_log is not None or (dry_run and bool(report.removed))
    if still_damaged:
        raise typer.Exit(code=1)


def _print_repair(report: RepairReport) -> None:
    say = lambda text: console.print(escape(text), soft_wrap=True)  # noqa: E731
    if report.broken_log is not None:
        for line in report.procedure:
            say(line)
        say(f"{report.table}: nothing changed (a broken log is mended by hand, as above)")
        return
    if not report.removed:
        say(f"{report.table}: every data file is there; nothing to repair")
        return
    count = f"{len(report.removed)} missing data file(s) from the log"
    if report.dry_run:
        say(f"{report.table}: would remove {count} (at version {report.version_before})")
    else:
        say(
            f"{report.table}: removed {count} "
            f"(version {report.version_before} -> {report.version_after})"
        )
    for item in report.removed:
        rows = f"{item.rows} rows" if item.rows is not None else "rows unknown"
        say(f"  {item.path}: {rows}" + (f", {item.lineage}" if item.lineage else ""))
    if report.dry_run:
        say(f"{report.table}: dry run, nothing changed")
        return
    say(
        f"{report.table}: {report.rows_lost} rows are gone from the lake and cannot be recovered "
        "from it; the log still records their offsets, so the sink will not re-read them. "
        "Re-sink them from Kafka while it retains them (feedbackctl replay --target NS --from "
        "TIME, Kafka lineage above), or backfill them (feedbackctl backfill --from-lake)."
    )
