"""What the demo produced, read back from the Delta tables, beside the generator's ground truth."""

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from producers.truth import GroundTruth
from schemas.lake import LAKE_TABLES
from sinks.lake import Lake
from sinks.lake_reader import dedupe, read_table

__all__ = ["DemoSummary", "explore_commands", "print_summary", "summarize_lake"]


@dataclass
class DemoSummary:
    rows: dict[str, int] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    enriched_turns: int = 0


def summarize_lake(lake: Lake) -> DemoSummary:
    """Rows per table, sessions by outcome (one row per turn, newest revision), dead letters."""
    summary = DemoSummary()
    for table in LAKE_TABLES:
        summary.paths[table.name] = lake.path(table.name)
        if not lake.exists(table.name):
            summary.rows[table.name] = 0
            continue
        summary.rows[table.name] = lake.open(table.name).count()
    if summary.rows["enriched_interactions"]:
        enriched = dedupe(
            read_table(
                "enriched_interactions",
                columns=["event_id", "revision", "session_id", "session_outcome"],
                lake=lake,
            ),
            "enriched_interactions",
        )
        summary.enriched_turns = len(set(enriched["event_id"].to_pylist()))
        sessions = dict(
            zip(
                enriched["session_id"].to_pylist(),
                enriched["session_outcome"].to_pylist(),
                strict=True,
            )
        )
        summary.outcomes = Counter(sessions.values())
    if summary.rows["dead_letters"]:
        letters = read_table("dead_letters", columns=["reason"], lake=lake)
        counts = pc.value_counts(letters["reason"]).to_pylist()
        summary.dead_letters = Counter({item["values"]: item["counts"] for item in counts})
    return summary


def print_summary(
    console: Console, summary: DemoSummary, truth: GroundTruth, events_sent: int, namespace: str
) -> None:
    outcomes = Table("session outcome", "pipeline (lake)", "generator truth")
    expected: Counter[str] = Counter(s.outcome for s in truth.sessions.values())
    for outcome in sorted(set(expected) | set(summary.outcomes)):
        outcomes.add_row(outcome, f"{summary.outcomes[outcome]:,}", f"{expected[outcome]:,}")
    console.print(outcomes)
    letters = Table("dead-letter reason", "rows", "injected")
    injected = Counter(reason for _topic, reason in truth.bad_records)
    for reason in sorted(set(injected) | set(summary.dead_letters)):
        letters.add_row(reason, f"{summary.dead_letters[reason]:,}", f"{injected[reason]:,}")
    console.print(letters)
    tables = Table("Delta table", "rows")
    tables.add_column("path", overflow="fold")  # a path cut with "…" cannot be copied
    for name, rows in summary.rows.items():
        tables.add_row(name, f"{rows:,}", summary.paths[name])
    console.print(tables)
    console.print(
        f"events in: {events_sent:,} sent + {summary.outcomes['abandoned']:,} abandonment signals "
        f"inferred by the processor = {summary.rows.get('raw_events', 0):,} rows in raw_events; "
        f"turns enriched: {summary.enriched_turns:,} of {truth.interaction_count():,}"
    )
    console.print("explore this run (copy as printed):")
    for command in explore_commands(namespace, summary.paths["quality_metrics"]):
        # Never wrapped: a wrapped command does not paste.
        console.print(f"  {command}", soft_wrap=True, markup=False, highlight=False)


def explore_commands(namespace: str, quality_metrics_path: str) -> list[str]:
    """Shell lines that read this run's data, runnable as printed from the current directory
    (what follows `#` says what each does)."""
    bin_dir = _bin_dir()
    ns = f"--namespace {namespace}"
    return [
        f"{bin_dir}/feedbackctl lake query enriched_interactions {ns} --limit 5 --dedupe",
        f"{bin_dir}/feedbackctl lake history raw_events {ns}",
        f"{bin_dir}/feedbackctl verify {ns}   # the lake against the batch reference",
        f"{bin_dir}/feedbackctl curate sft {ns}   # training data from this run",
        f'{bin_dir}/python -c "import polars as pl; '
        f"print(pl.read_delta('{quality_metrics_path}'))\"",
    ]


def _bin_dir() -> str:
    """Where this interpreter's commands are, relative to the current directory when inside it
    (`.venv/bin` after `make demo`): the printed commands then run as printed, without an
    activated virtualenv."""
    folder = Path(sys.executable).parent
    try:
        return str(folder.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(folder)
