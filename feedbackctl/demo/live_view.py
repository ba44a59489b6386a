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

__all__ = ["MetricsWatcher", "PipelineProgress", "render"]


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
    return "-" if value is None else f"{100 * value:5.1f}%"


def render(snapshot: dict[str, Any], progress: PipelineProgress) -> Group:
    table = Table(title="live quality per agent version (event time, all windows so far)")
    for column in (
        "agent",
        "version",
        "turns",
        "sessions",
        "completed",
        "abandoned",
        "failed",
        "thumbs up",
        "rating",
        "corrections",
        "p95 latency",
    ):
        table.add_column(column, justify="left" if column in ("agent", "version") else "right")
    for agent in snapshot.get("agents", []):
        s = agent["summary"]
        table.add_row(
            agent["agent_id"],
            agent["agent_version"],
            f"{s['interactions']:,}",
            f"{s['sessions']:,}",
            _pct(s["completion_rate"]),
            _pct(s["abandonment_rate"]),
            _pct(s["failure_rate"]),
            _pct(s["thumbs_up_rate"]),
            "-" if s["mean_rating"] is None else f"{s['mean_rating']:.2f}",
            _pct(s["correction_rate"]),
            "-" if s["latency_p95_ms"] is None else f"≈{s['latency_p95_ms']:,.0f} ms",
        )
    dead = snapshot.get("dead_letters", {})
    reasons = ", ".join(f"{k}: {v}" for k, v in dead.get("by_reason", {}).items()) or "none"
    lines = [
        f"[bold]{progress.phase}[/bold]  {progress.elapsed_s:5.0f}s   "
        f"events in {progress.events_in:,}   enriched out {progress.enriched_out:,}   "
        f"processor lag {progress.processor_lag:,}   sink lag {progress.sink_lag:,}",
        f"dead letters {dead.get('total', 0):,} ({reasons})",
    ]
    if progress.dashboard_url:
        lines.append(f"dashboard: {progress.dashboard_url}")
    return Group(table, Panel("\n".join(lines), title="pipeline"))
