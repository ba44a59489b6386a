"""What the dashboard shows, as a pure aggregation of metric, dead-letter and alert records.

No I/O and no threads here: the feed hands decoded records in, the web service asks for a
snapshot (a JSON-ready dict). Unit-tested without a broker.

"The last hour" is the last hour of EVENT time seen: the newest `window_end` of any metric record
is the horizon's end, and windows that ended `lookback_s` before it are dropped. The demo traffic
generator runs in simulated time, faster than the wall clock, so this is not the wall-clock hour.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DashboardState", "WindowKey", "supersedes"]

# (agent_id, agent_version, window_start)
WindowKey = tuple[str, str, int]
AgentKey = tuple[str, str]

# Fields of a QualityMetric record that each chart point carries.
_POINT_FIELDS = (
    "window_start",
    "window_end",
    "is_final",
    "update_seq",
    "interactions",
    "sessions",
    "sessions_completed",
    "sessions_abandoned",
    "sessions_failed",
    "thumbs_up",
    "thumbs_down",
    "ratings",
    "corrections",
    "completion_rate",
    "abandonment_rate",
    "failure_rate",
    "thumbs_up_rate",
    "mean_rating",
    "correction_rate",
    "feedback_coverage",
    "latency_p50_ms",
    "latency_p95_ms",
    "tool_error_rate",
    "cost_usd",
)


def supersedes(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """True when `new` should replace `old` for the same window.

    The final record wins over running updates; between two of the same kind the higher
    `update_seq` wins. Processor restarts can republish a window's updates from an earlier
    sequence number, so arrival order alone is not enough.
    """
    if bool(new["is_final"]) != bool(old["is_final"]):
        return bool(new["is_final"])
    return int(new["update_seq"]) >= int(old["update_seq"])


@dataclass
class DashboardState:
    """The last `lookback_s` of event time per agent and version, dead letters and alerts."""

    lookback_s: float = 3600.0
    max_alerts: int = 100
    windows: dict[WindowKey, dict[str, Any]] = field(default_factory=dict)
    dead_letters_by_reason: Counter[str] = field(default_factory=Counter)
    dead_letters_by_topic: Counter[str] = field(default_factory=Counter)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    horizon_end_ms: int | None = None
    version: int = 0  # bumped on every change that shows; the SSE stream pushes on change

    # --- input -------------------------------------------------------------------------------

    def add_metric(self, record: Mapping[str, Any]) -> bool:
        """Take one QualityMetric record; True when it changed what is shown."""
        window_end = int(record["window_end"])
        if self.horizon_end_ms is not None and window_end <= self._horizon_start(
            self.horizon_end_ms
        ):
            return False  # older than the look-back: a late duplicate or a replay of old data
        key: WindowKey = (
            str(record["agent_id"]),
            str(record["agent_version"]),
            int(record["window_start"]),
        )
        current = self.windows.get(key)
        if current is not None and not supersedes(record, current):
            return False
        self.windows[key] = {name: record.get(name) for name in _POINT_FIELDS}
        if self.horizon_end_ms is None or window_end > self.horizon_end_ms:
            self.horizon_end_ms = window_end
            self._evict()
        self.version += 1
        return True

    def add_dead_letter(self, record: Mapping[str, Any]) -> None:
        """Count one DeadLetter record by reason and by source topic."""
        self.dead_letters_by_reason[str(record.get("reason") or "unknown")] += 1
        self.dead_letters_by_topic[str(record.get("source_topic") or "?")] += 1
        self.version += 1

    def add_alert(self, record: Mapping[str, Any]) -> None:
        """Keep one QualityAlert; the same alert_id again replaces the earlier one."""
        alert = dict(record)
        self.alerts.pop(str(alert["alert_id"]), None)
        self.alerts[str(alert["alert_id"])] = alert
        while len(self.alerts) > self.max_alerts:
            self.alerts.pop(next(iter(self.alerts)))
        self.version += 1

    # --- output ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, JSON-ready (the /api/metrics body)."""
        by_agent: dict[AgentKey, list[dict[str, Any]]] = {}
        for (agent_id, agent_version, _start), point in sorted(self.windows.items()):
            by_agent.setdefault((agent_id, agent_version), []).append(point)
        agents = [
            {
                "agent_id": agent_id,
                "agent_version": agent_version,
                "summary": summarize(points),
                "latest_window": points[-1],
                "series": points,
            }
            for (agent_id, agent_version), points in sorted(by_agent.items())
        ]
        horizon_end = self.horizon_end_ms
        return {
            "version": self.version,
            "event_time": {
                "lookback_s": self.lookback_s,
                "horizon_start_ms": None
                if horizon_end is None
                else self._horizon_start(horizon_end),
                "horizon_end_ms": horizon_end,
            },
            "agents": agents,
            "dead_letters": {
                "total": sum(self.dead_letters_by_reason.values()),
                "by_reason": dict(self.dead_letters_by_reason.most_common()),
                "by_source_topic": dict(self.dead_letters_by_topic.most_common()),
            },
            "alerts": sorted(
                self.alerts.values(), key=lambda a: (a["window_end"], a["alert_id"]), reverse=True
            ),
        }

    # --- internals ---------------------------------------------------------------------------

    def _horizon_start(self, horizon_end_ms: int) -> int:
        return horizon_end_ms - int(self.lookback_s * 1000)

    def _evict(self) -> None:
        assert self.horizon_end_ms is not None
        start = self._horizon_start(self.horizon_end_ms)
        for key in [key for key, point in self.windows.items() if point["window_end"] <= start]:
            del self.windows[key]
        for alert_id in [a for a, alert in self.alerts.items() if alert["window_end"] <= start]:
            del self.alerts[alert_id]


def summarize(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One agent version over the look-back: counts summed, rates derived from the sums.

    Rates come from summed numerators and denominators (never an average of window rates), so a
    quiet window weighs as little as it should. Percentiles cannot be merged exactly from window
    percentiles: `latency_p95_ms` is the interaction-weighted mean of the windows' p95 (an
    approximation, labelled as such on the page) and `latency_p95_max_ms` the worst window's.
    """
    total = {name: sum(int(p[name] or 0) for p in points) for name in _COUNTS}
    rated = [(p["mean_rating"], int(p["ratings"])) for p in points]
    p95s = [(p["latency_p95_ms"], int(p["interactions"])) for p in points]
    return {
        "windows": len(points),
        "final_windows": sum(1 for p in points if p["is_final"]),
        **total,
        "completion_rate": _ratio(total["sessions_completed"], total["sessions"]),
        "abandonment_rate": _ratio(total["sessions_abandoned"], total["sessions"]),
        "failure_rate": _ratio(total["sessions_failed"], total["sessions"]),
        "thumbs_up_rate": _ratio(total["thumbs_up"], total["thumbs_up"] + total["thumbs_down"]),
        "mean_rating": _weighted_mean(rated),
        "correction_rate": _ratio(total["corrections"], total["interactions"]),
        "latency_p95_ms": _weighted_mean(p95s),
        "latency_p95_max_ms": max((v for v, _ in p95s if v is not None), default=None),
        "cost_usd": sum(float(p["cost_usd"] or 0.0) for p in points),
    }


_COUNTS = (
    "interactions",
    "sessions",
    "sessions_completed",
    "sessions_abandoned",
    "sessions_failed",
    "thumbs_up",
    "thumbs_down",
    "ratings",
    "corrections",
)


def _weighted_mean(pairs: list[tuple[float | None, int]]) -> float | None:
    kept = [(value, weight) for value, weight in pairs if value is not None and weight > 0]
    return _ratio(sum(v * w for v, w in kept), sum(w for _, w in kept))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
