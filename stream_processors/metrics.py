"""Quality metrics of one agent version over one event-time window, as mergeable partials.

Each input partition keeps a `WindowPartial` per (agent_id, agent_version, window); partials of
all partitions merge (in any order, same result) into the published `QualityMetric` record.

Attribution (docs/processor.md): a turn counts (interactions, latency, tools, cost) in the window
of its event_time; a session's outcome in the window of its close time; feedback (thumbs,
ratings, corrections) in the window of the feedback's event_time. A turn counts as `with
feedback` in its own window when explicit feedback on it (or on its session) has an event_time
before that window ends. A turn, its coverage and feedback on it count for the turn's own agent
and version; the outcome and session-level feedback for those of the session's first turn.
"""

from dataclasses import dataclass, field
from typing import Any

from stream_processors.percentiles import BottomKSample

__all__ = ["OUTCOME_FIELDS", "WindowPartial", "window_start_of"]

OUTCOME_FIELDS = {
    "completed": "sessions_completed",
    "failed": "sessions_failed",
    "abandoned": "sessions_abandoned",
    "escalated": "sessions_escalated",
}
_COUNTERS = (
    "interactions",
    "sessions",
    "sessions_completed",
    "sessions_failed",
    "sessions_abandoned",
    "sessions_escalated",
    "thumbs_up",
    "thumbs_down",
    "ratings",
    "rating_sum",
    "corrections",
    "interactions_with_feedback",
    "tool_calls",
    "tool_errors",
    "cost_nanos",
)
_NANOS = 1_000_000_000


def window_start_of(event_time: int, size_ms: int) -> int:
    """Start (inclusive, epoch ms) of the tumbling window holding `event_time`."""
    return event_time - event_time % size_ms


@dataclass
class WindowPartial:
    """Counts of one window seen by one partition (or merged over several).

    Cost is kept in integer nano-dollars so sums are exact in any order.
    """

    sample_size: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    latency: BottomKSample = field(init=False)

    def __post_init__(self) -> None:
        self.latency = BottomKSample(self.sample_size)

    def add_interaction(self, interaction: dict[str, Any]) -> None:
        counts = self.counts
        counts["interactions"] += 1
        tools = interaction.get("tools_used") or []
        counts["tool_calls"] += len(tools)
        counts["tool_errors"] += sum(1 for t in tools if t.get("status") in ("error", "timeout"))
        counts["cost_nanos"] += round(float(interaction.get("cost_usd") or 0.0) * _NANOS)
        self.latency.add(interaction["event_id"], float(interaction["latency_ms"]))

    def add_session(self, outcome: str) -> None:
        self.counts["sessions"] += 1
        if outcome in OUTCOME_FIELDS:
            self.counts[OUTCOME_FIELDS[outcome]] += 1

    def add_feedback(self, feedback: dict[str, Any]) -> None:
        counts = self.counts
        kind = feedback.get("kind")
        if kind == "thumbs" and feedback.get("thumbs_up") is not None:
            counts["thumbs_up" if feedback["thumbs_up"] else "thumbs_down"] += 1
        elif kind == "rating" and feedback.get("rating") is not None:
            counts["ratings"] += 1
            counts["rating_sum"] += int(feedback["rating"])
        elif kind == "correction":
            counts["corrections"] += 1

    def add_covered_interaction(self) -> None:
        self.counts["interactions_with_feedback"] += 1

    def merge(self, other: "WindowPartial") -> "WindowPartial":
        merged = WindowPartial(min(self.sample_size, other.sample_size))
        for name in _COUNTERS:
            merged.counts[name] = self.counts[name] + other.counts[name]
        merged.latency = self.latency.merge(other.latency)
        return merged

    def to_state(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "latency": self.latency.entries()}

    @classmethod
    def from_state(cls, state: dict[str, Any], sample_size: int) -> "WindowPartial":
        partial = cls(sample_size)
        partial.counts.update(state["counts"])
        partial.latency = BottomKSample(sample_size, (tuple(e) for e in state["latency"]))
        return partial

    def to_record(
        self,
        agent_id: str,
        agent_version: str,
        window_start: int,
        window_end: int,
        *,
        is_final: bool,
        update_seq: int,
    ) -> dict[str, Any]:
        """The `agentfeedback.metrics.QualityMetric` record of this window."""
        c = self.counts
        sessions, interactions = c["sessions"], c["interactions"]
        thumbs = c["thumbs_up"] + c["thumbs_down"]
        return {
            "agent_id": agent_id,
            "agent_version": agent_version,
            "window_start": window_start,
            "window_end": window_end,
            "is_final": is_final,
            "update_seq": update_seq,
            "interactions": interactions,
            "sessions": sessions,
            "sessions_completed": c["sessions_completed"],
            "sessions_failed": c["sessions_failed"],
            "sessions_abandoned": c["sessions_abandoned"],
            "sessions_escalated": c["sessions_escalated"],
            "completion_rate": _ratio(c["sessions_completed"], sessions),
            "abandonment_rate": _ratio(c["sessions_abandoned"], sessions),
            "failure_rate": _ratio(c["sessions_failed"], sessions),
            "thumbs_up": c["thumbs_up"],
            "thumbs_down": c["thumbs_down"],
            "thumbs_up_rate": c["thumbs_up"] / thumbs if thumbs else None,
            "ratings": c["ratings"],
            "mean_rating": c["rating_sum"] / c["ratings"] if c["ratings"] else None,
            "corrections": c["corrections"],
            "correction_rate": _ratio(c["corrections"], interactions),
            "interactions_with_feedback": c["interactions_with_feedback"],
            "feedback_coverage": _ratio(c["interactions_with_feedback"], interactions),
            "latency_p50_ms": self.latency.percentile(0.50),
            "latency_p95_ms": self.latency.percentile(0.95),
            "tool_calls": c["tool_calls"],
            "tool_errors": c["tool_errors"],
            "tool_error_rate": _ratio(c["tool_errors"], c["tool_calls"]),
            "cost_usd": c["cost_nanos"] / _NANOS,
        }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
