"""`feedbackctl replay` and `feedbackctl backfill`: reprocess history into a separate namespace."""

from collections.abc import Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from feedbackctl.timeparse import parse_time_ms
from replay.backfill import backfill_from_lake
from replay.exceptions import ReplayError
from replay.group_reset import reset_group_to_time
from replay.outputs import diff_final_metrics, final_metrics
from replay.settings import ReplaySettings
from replay.topic_copy import copy_input_range
from schemas.topics import INPUT_TOPICS

__all__ = ["backfill_command", "replay_app"]

console = Console()
replay_app = typer.Typer(
    help="Reprocess a time or offset range of the input topics into a separate namespace.",
    invoke_without_command=True,
)

_BOOTSTRAP_HELP = "Kafka bootstrap servers [env: FEEDBACK_REPLAY_BOOTSTRAP_SERVERS]"


def _settings(bootstrap: str | None, lake: str | None = None) -> ReplaySettings:
    settings = ReplaySettings()
    if bootstrap is not None:
        settings = settings.model_copy(update={"bootstrap_servers": bootstrap})
    if lake is not None:
        settings = settings.model_copy(update={"lake_uri": lake})
    return settings


def _progress_bar() -> tuple[Progress, Callable[[int, int], None]]:
    progress = Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task("copy", total=None, rate=0.0)

    def update(done: int, total: int) -> None:
        elapsed = progress.tasks[task].elapsed or 0.0
        progress.update(task, completed=done, total=total, rate=done / elapsed if elapsed else 0.0)

    return progress, update


@replay_app.callback()
def replay(
    ctx: typer.Context,
    target: str = typer.Option(None, "--target", help="Namespace to replay into (new topics)."),
    start: str = typer.Option(None, "--from", help="Start time, inclusive (ISO 8601 or epoch ms)."),
    end: str = typer.Option(None, "--to", help="End time, exclusive (ISO 8601 or epoch ms)."),
    source: str = typer.Option(None, "--source-namespace", help="Replay from this namespace."),
    in_place: bool = typer.Option(False, "--in-place", help="Reset a group's offsets instead."),
    group: str = typer.Option(None, "--group", help="Consumer group to reset (with --in-place)."),
    to_datetime: str = typer.Option(None, "--to-datetime", help="Reset to this time (--in-place)."),
    lake: str = typer.Option(
        None, "--lake", help="Lake whose erasure ledger applies [env: FEEDBACK_REPLAY_LAKE_URI]"
    ),
    bootstrap: str = typer.Option(None, "--bootstrap-servers", help=_BOOTSTRAP_HELP),
) -> None:
    """Copy [--from, --to) of the input topics into --target, or reset a group with --in-place.

    Events of users in the erasure ledger (of the lake, and of the source namespace) are skipped.

    Then run `feedbackctl process --namespace TARGET` (and `feedbackctl sink --namespace TARGET`)
    to recompute enriched records and metrics there, untouched by live processing.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(bootstrap, lake)
    try:
        if in_place:
            _reset(settings, group, to_datetime, source)
            return
        if not target:
            raise typer.BadParameter("--target is required (or use --in-place)")
        progress, update = _progress_bar()
        with progress:
            result = copy_input_range(
                settings, target, parse_time_ms(start), parse_time_ms(end), source, update
            )
    except ReplayError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"copied {result.records} events into namespace [bold]{target}[/bold] in "
        f"{result.seconds:.1f}s ({result.rate:,.0f} events/s); next: "
        f"feedbackctl process --namespace {target}"
    )
    _say_skipped(result.skipped_erased, result.erasures, settings.lake_uri)


def _say_skipped(skipped: int, erasures: int, lake_uri: str) -> None:
    """How many events of erased users stayed out, and which ledger said so."""
    if not erasures:
        console.print(
            f"erasure ledger: none found under {lake_uri} (nothing skipped); set "
            "FEEDBACK_REPLAY_LAKE_URI if erasures are recorded elsewhere",
            soft_wrap=True,
        )
        return
    console.print(
        f"skipped {skipped} events of erased users ({erasures} erasures in the ledger "
        f"under {lake_uri})",
        soft_wrap=True,
    )


def _reset(
    settings: ReplaySettings, group: str | None, when: str | None, source: str | None
) -> None:
    if not group or not when:
        raise typer.BadParameter("--in-place needs --group and --to-datetime")
    topics = [spec.in_namespace(source).name for spec in INPUT_TOPICS]
    time_ms = parse_time_ms(when)
    assert time_ms is not None
    resets = reset_group_to_time(settings.bootstrap_servers, group, time_ms, topics)
    table = Table("topic", "partition", "old offset", "new offset")
    for item in resets:
        table.add_row(item.topic, str(item.partition), str(item.old_offset), str(item.new_offset))
    console.print(table)


@replay_app.command("diff")
def diff(
    left: str = typer.Argument(..., help="Namespace, or 'live' for the live topics."),
    right: str = typer.Argument(..., help="Namespace to compare with."),
    bootstrap: str = typer.Option(None, "--bootstrap-servers", help=_BOOTSTRAP_HELP),
) -> None:
    """Print every final metric that differs between two namespaces; exit 1 if any does."""
    settings = _settings(bootstrap)
    names = [None if ns == "live" else ns for ns in (left, right)]
    a, b = (final_metrics(settings.bootstrap_servers, ns) for ns in names)
    differences = diff_final_metrics(a, b)
    console.print(f"{len(a)} final windows in {left}, {len(b)} in {right}")
    if not differences:
        console.print("[green]identical final metrics[/green]")
        return
    table = Table("agent", "version", "window_start", "metric", left, right)
    for item in differences[:200]:
        agent, version, window = item.key
        table.add_row(agent, version, str(window), item.metric, str(item.left), str(item.right))
    console.print(table)
    raise typer.Exit(1)


def backfill_command(
    from_lake: bool = typer.Option(False, "--from-lake", help="Read raw_events from the lake."),
    target: str = typer.Option(..., "--target", help="Namespace to publish into (new topics)."),
    start: str = typer.Option(None, "--from", help="Start time (Kafka timestamp), inclusive."),
    end: str = typer.Option(None, "--to", help="End time, exclusive."),
    version: int = typer.Option(
        None, "--version", help="raw_events version to pin (default latest)."
    ),
    table_prefix: str = typer.Option("", "--table-prefix", help="Prefix of the lake tables."),
    lake: str = typer.Option(
        None, "--lake", help="Lake root, and of its erasure ledger [env: FEEDBACK_REPLAY_LAKE_URI]"
    ),
    bootstrap: str = typer.Option(None, "--bootstrap-servers", help=_BOOTSTRAP_HELP),
) -> None:
    """Re-publish the raw events of a time range from the lake, in original order per session.

    Events of users in the erasure ledger (of the lake, and of the table prefix) are skipped.
    """
    if not from_lake:
        raise typer.BadParameter("only --from-lake is supported: history comes from raw_events")
    settings = _settings(bootstrap, lake)
    progress, update = _progress_bar()
    try:
        with progress:
            result = backfill_from_lake(
                settings,
                target,
                parse_time_ms(start),
                parse_time_ms(end),
                version,
                table_prefix,
                progress=update,
            )
    except ReplayError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"published {result.records} raw events of raw_events v{result.table_version} into "
        f"namespace [bold]{target}[/bold] ({result.rate:,.0f} events/s); next: "
        f"feedbackctl process --namespace {target}"
    )
    _say_skipped(result.skipped_erased, result.erasures, settings.lake_uri)
