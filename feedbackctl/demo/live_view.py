"""The terminal view of the demo: live metrics per agent version and the pipeline's progress."""

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from dashboard.feed import MetricsFeed
from dashboard.live import LiveState
from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState
from dashboard.telemetry import DashboardTelemetry

__all__ = ["MetricsWatcher", "PipelineProgress", "progress_line", "progress_lines", "render"]


class MetricsWatcher:
    """Follows the namespace's metric, dead-letter and alert topics in a background thread."""

    def __init__(self, bootstrap_servers: str, namespace: str) -> None:
        settings = DashboardSettings(
            bootstrap_servers=bootstrap_servers,
            namespace=namespace,
            group_id=f"feedbackctl-demo-view.{namespace}",
            lookback_s=24 * 3600.0,
        )
        self.live = LiveState(DashboardState(lookback_s=settings.lookback_s))
        self.feed = MetricsFeed(settings, self.live, DashboardTelemetry(CollectorRegistry()))

    def __enter__(self) -> "MetricsWatcher":
        self.feed.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.feed.stop()

    def snapshot(self) -> dict[str, Any]:
        return self.live.snapshot("all")


@dataclass
class PipelineProgress:
    """Counters shown under the metrics table."""

    phase: str
    elapsed_s: float
    events_in: int
    enriched_out: int
    processor_lag: int
    sink_lag: int
    dashboard_url: str | None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# Columns of the metrics table, most important first: a narrow terminal drops them from the end
# rather than cutting every cell ("thu…").
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("agent", lambda a, s: a["agent_id"]),
    ("version", lambda a, s: a["agent_version"]),
    ("turns", lambda a, s: f"{s['interactions']:,}"),
    ("completed", lambda a, s: _pct(s["completion_rate"])),
    ("thumbs up", lambda a, s: _pct(s["thumbs_up_rate"])),
    (
        "p95 latency",
        lambda a, s: "-" if s["latency_p95_ms"] is None else f"≈{s['latency_p95_ms']:,.0f} ms",
    ),
    ("sessions", lambda a, s: f"{s['sessions']:,}"),
    ("abandoned", lambda a, s: _pct(s["abandonment_rate"])),
    ("rating", lambda a, s: "-" if s["mean_rating"] is None else f"{s['mean_rating']:.2f}"),
    ("failed", lambda a, s: _pct(s["failure_rate"])),
    ("corrections", lambda a, s: _pct(s["correction_rate"])),
)
# What a column costs besides its text: padding and border.
_COLUMN_FRAME = 3


def _fitting_columns(rows: list[list[str]], width: int) -> int:
    """How many leading columns fit in `width` characters with every cell whole (at least 3)."""
    used = 1  # the table's left border
    for index, (name, _cell) in enumerate(_COLUMNS):
        cell_width = max([len(name), *(len(row[index]) for row in rows)])
        used += cell_width + _COLUMN_FRAME
        if used > width and index >= 3:
            return index
    return len(_COLUMNS)


def render(snapshot: dict[str, Any], progress: PipelineProgress, width: int = 200) -> Group:
    """The metrics table (as many columns as `width` holds) and the pipeline panel."""
    rows = [
        [cell(agent, agent["summary"]) for _name, cell in _COLUMNS]
        for agent in snapshot.get("agents", [])
    ]
    shown = _fitting_columns(rows, width)
    title = "live quality per agent version (event time, all windows so far)"
    table = Table(title=title if width >= len(title) else "live quality")
    for name, _cell in _COLUMNS[:shown]:
        table.add_column(
            name, justify="left" if name in ("agent", "version") else "right", no_wrap=True
        )
    for row in rows:
        table.add_row(*row[:shown])
    return Group(table, Panel("\n".join(progress_lines(snapshot, progress)), title="pipeline"))


def progress_lines(snapshot: dict[str, Any], progress: PipelineProgress) -> list[str]:
    """The pipeline's counters, dead letters and the dashboard's address, as plain lines."""
    dead = snapshot.get("dead_letters", {})
    reasons = ", ".join(f"{k}: {v}" for k, v in dead.get("by_reason", {}).items()) or "none"
    lines = [
        f"{progress.phase}  {progress.elapsed_s:.0f}s  "
        f"events in {progress.events_in:,}  enriched out {progress.enriched_out:,}  "
        f"processor lag {progress.processor_lag:,}  sink lag {progress.sink_lag:,}",
        f"dead letters {dead.get('total', 0):,} ({reasons})",
    ]
    if progress.dashboard_url:
        lines.append(f"dashboard: {progress.dashboard_url}")
    return lines


def progress_line(snapshot: dict[str, Any], progress: PipelineProgress) -> str:
    """One line for a log file or a pipe (no terminal): counters and turns per version."""
    turns = " ".join(
        f"{a['agent_id']}/{a['agent_version']}={a['summary']['interactions']:,}"
        for a in snapshot.get("agents", [])
    )
    first, dead = progress_lines(snapshot, progress)[:2]
    return f"{first}  {dead}" + (f"  turns {turns}" if turns else "")
