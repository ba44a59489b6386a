"""`feedbackctl verify`: compare a namespace's outputs in the lake with the batch reference."""

from typing import Any

import typer
from rich.console import Console

from sinks.lake import Lake
from sinks.settings import SINK_ENV_PREFIX, SinkSettings
from stream_processors.settings import ProcessorSettings
from verification.lake_check import verify_lake

__all__ = ["verify"]

console = Console(highlight=False)


def verify(
    namespace: str | None = typer.Option(
        None,
        help=f"Namespace whose tables to verify (env {SINK_ENV_PREFIX}NAMESPACE or "
        "FEEDBACK_NAMESPACE).",
    ),
    lake_dir: str | None = typer.Option(
        None, help=f"Lake root (env {SINK_ENV_PREFIX}LAKE_URI, default ./lake)."
    ),
    version: int | None = typer.Option(
        None, help="Delta version of raw_events to read (default: the latest)."
    ),
) -> None:
    """Recompute the expected outputs from raw_events (docs/semantics.md) and compare them with
    enriched_interactions, quality_metrics and dead_letters. Timing rules come from the
    processor's settings (FEEDBACK_PROCESSOR_*). Exits 1 on any difference, 2 when the
    namespace has no raw_events table."""
    overrides: dict[str, Any] = {} if namespace is None else {"namespace": namespace}
    if lake_dir:
        overrides["lake_uri"] = lake_dir
    sink = SinkSettings(**overrides)
    # The timing rules of the same namespace (and no second "last demo" notice).
    processor = ProcessorSettings(namespace=sink.namespace)
    lake = Lake.from_settings(sink)
    if not lake.exists("raw_events"):
        # Nothing to recompute: "no differences" here would hide a wrong path or namespace.
        console.print(
            f"[red]no raw_events table in namespace {sink.namespace} under {sink.lake_uri}[/red]"
        )
        raise typer.Exit(code=2)
    result = verify_lake(lake, processor, version)
    for table, read in result.versions.items():
        shown = "no table" if read is None else f"version {read}"
        console.print(f"{table}: {shown}")
    for table, count in result.compared.items():
        console.print(f"compared {count} {table}")
    for what, why in result.skipped.items():
        console.print(f"not compared: {what} ({why})")
    for difference in result.differences:
        console.print(difference.line(), markup=False)
    if result.differences:
        console.print(f"[red]{len(result.differences)} differences[/red]")
        raise typer.Exit(code=1)
    console.print("[green]no differences[/green]")
