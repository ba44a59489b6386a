"""What the dashboard shows, as a pure aggregation of metric, dead-letter, alert and release
impact records.

No I/O and no threads here: the feed hands decoded records in, the web service asks for a
snapshot (a JSON-ready dict). Unit-tested without a broker.

The state keeps `lookback_s` of EVENT time back from the newest `window_end` seen (older windows are
dropped). A snapshot shows one range of it (`RANGES`: the last 15 min, 1 h, 6 h, 24 h, or all),
ending where the traffic is (`view_end`): at the newest window that holds turns, or at the wall
clock when that window is current (live traffic). Windows holding only late feedback (hours after
their turns, in event time that can run ahead of the turns) never move the view away from the
turns, so the headline numbers of a range always count turns.

Release impacts (`feedbackctl compare --publish`) are kept per agent, the latest comparison only:
they are rare, answer "is the newest release better", and stay shown whatever the range (a
comparison spans days of traffic, not a window of the view).
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_RANGE", "LIVE_SLACK_MS", "RANGES", "DashboardState", "WindowKey", "supersedes"]

# (agent_id, agent_version, window_start)
WindowKey = tuple[str, str, int]
AgentKey = tuple[str, str]

# The ranges the page offers, in seconds of event time; None = everything the state keeps.
RANGES: dict[str, float | None] = {
    "15m": 900.0,
    "1h": 3600.0,
    "6h": 6 * 3600.0,
    "24h": 24 * 3600.0,
    "all": None,
}
DEFAULT_RANGE = "1h"
# A window of turns that ends this close to the wall clock (or after it) means live traffic: the
# view then ends at the wall clock, so an idle minute shows as a gap instead of freezing the view.
LIVE_SLACK_MS = 3 * 60_000

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
    """Up to `lookback_s` of event time per agent and version, dead letters and alerts."""

    lookback_s: float = 24 * 3600.0
    max_alerts: int = 100
    windows: dict[WindowKey, dict[str, Any]] = field(default_factory=dict)
    dead_letters_by_reason: Counter[str] = field(default_factory=Counter)
    dead_letters_by_topic: Counter[str] = field(default_factory=Counter)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    release_impacts: dict[str, dict[str, Any]] = field(default_factory=dict)
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

    def add_release_impact(self, record: Mapping[str, Any]) -> bool:
        """Keep an agent's latest ReleaseImpact (by `created_at`, then `window_end`); an older
        record read later (a replay, the start-up backfill) never replaces a newer one. True
        when it changed what is shown."""
        agent_id = str(record["agent_id"])
        current = self.release_impacts.get(agent_id)
        if current is not None and _impact_order(record) < _impact_order(current):
            return False
        self.release_impacts[agent_id] = dict(record)
        self.version += 1
        return True

    # --- output ------------------------------------------------------------------------------

    def snapshot(self, range_name: str = "all", now_ms: int | None = None) -> dict[str, Any]:
        """Everything the page shows for one of `RANGES`, JSON-ready (the /api/metrics body).

        `now_ms` is the wall clock (only used to tell live traffic); the view ends at
        `view_end` and starts `RANGES[range_name]` before it ("all": at the oldest window kept).
        """
        if range_name not in RANGES:
            raise ValueError(f"unknown range {range_name!r}; one of {', '.join(RANGES)}")
        end, follows = self.view_end(now_ms)
        span_s = RANGES[range_name]
        start: int | None
        if end is None:
            start = None
        elif span_s is None:  # everything kept, late feedback after the newest turns included
            end = max(end, self.horizon_end_ms or end)
            start = min((p["window_start"] for p in self.windows.values()), default=end)
        else:
            start = end - int(span_s * 1000)
        by_agent: dict[AgentKey, list[dict[str, Any]]] = {}
        for (agent_id, agent_version, _start), point in sorted(self.windows.items()):
            if start is None or end is None:
                continue
            if point["window_end"] <= start or point["window_start"] >= end:
                continue
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
        return {
            "version": self.version,
            "event_time": {
                "lookback_s": self.lookback_s,
                "range": range_name,
                "range_s": span_s,
                "ranges": list(RANGES),
                "follows": follows,
                "horizon_start_ms": start,
                "horizon_end_ms": end,
                "newest_window_end_ms": self.horizon_end_ms,
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
            "release_impacts": [
                self.release_impacts[agent_id] for agent_id in sorted(self.release_impacts)
            ],
        }

    def view_end(self, now_ms: int | None = None) -> tuple[int | None, str]:
        """Where the view ends, and why: "live" (the wall clock: turns are arriving now),
        "turns" (the newest window holding turns) or "windows" (no turns yet: the newest window).
        """
        turns_end = max(
            (int(p["window_end"]) for p in self.windows.values() if int(p["interactions"] or 0)),
            default=None,
        )
        if turns_end is None:
            return self.horizon_end_ms, "windows"
        if now_ms is not None and turns_end >= now_ms - LIVE_SLACK_MS:
            return max(turns_end, now_ms), "live"
        return turns_end, "turns"

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


def _impact_order(record: Mapping[str, Any]) -> tuple[int, int]:
    return int(record["created_at"]), int(record.get("window_end") or 0)


def summarize(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One agent version over the range shown: counts summed, rates derived from the sums.

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
