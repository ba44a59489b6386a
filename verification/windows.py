"""Expected final quality metrics per (agent_id, agent_version, window_start).

Attribution (docs/semantics.md, Outputs): a turn in the window of its event time, a session's
outcome in the window of its close, joined feedback in the window of its own event time, a turn
"with feedback" in its own window. A turn, its coverage and feedback on it count for the turn's
own agent and version; the outcome and session-level feedback for those of the session's first
turn.
Latency percentiles come from the bottom-k sample by a blake2b hash of the turn's event id
(nearest rank), so they equal the processor's also above k turns.
"""

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FINAL_UPDATE_SEQ", "WindowCounts", "WindowKey", "latency_hash", "percentile"]

WindowKey = tuple[str, str, int]  # agent_id, agent_version, window_start
FINAL_UPDATE_SEQ = 2**31 - 1  # what final records carry; not compared (bookkeeping)
_NANOS = 1_000_000_000
_OUTCOMES = ("completed", "failed", "abandoned", "escalated")


def latency_hash(event_id: str) -> int:
    """The 63-bit sampling hash of a turn: blake2b (8 bytes, big endian) shifted right once."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (the ceil(q * n)-th smallest)."""
    if not values:
        return None
    return float(values[max(1, math.ceil(q * len(values))) - 1])


@dataclass
class WindowCounts:
    """What one window of one agent version accumulates."""

    interactions: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_OUTCOMES, 0))
    sessions: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    ratings: list[int] = field(default_factory=list)
    corrections: int = 0
    with_feedback: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    cost_nanos: int = 0
    latencies: dict[int, float] = field(default_factory=dict)  # sampling hash -> latency

    def add_turn(self, record: Any) -> None:
        self.interactions += 1
        tools = record.get("tools_used") or []
        self.tool_calls += len(tools)
        self.tool_errors += sum(1 for tool in tools if tool.get("status") in ("error", "timeout"))
        self.cost_nanos += round(float(record.get("cost_usd") or 0.0) * _NANOS)
        self.latencies.setdefault(latency_hash(record["event_id"]), float(record["latency_ms"]))

    def add_outcome(self, outcome: str) -> None:
        self.sessions += 1
        if outcome in self.outcomes:
            self.outcomes[outcome] += 1

    def add_feedback(self, record: Any) -> None:
        kind = record.get("kind")
        if kind == "thumbs" and record.get("thumbs_up") is not None:
            if record["thumbs_up"]:
                self.thumbs_up += 1
            else:
                self.thumbs_down += 1
        elif kind == "rating" and record.get("rating") is not None:
            self.ratings.append(int(record["rating"]))
        elif kind == "correction":
            self.corrections += 1

    def latency_sample(self, k: int) -> list[float]:
        """Latencies of the k turns with the smallest hashes, sorted by value."""
        kept = sorted(self.latencies)[:k]
        return sorted(self.latencies[h] for h in kept)

    def to_record(self, key: WindowKey, window_ms: int, sample_size: int) -> dict[str, Any]:
        """The fields of the window's final `agentfeedback.metrics.QualityMetric` record."""
        agent_id, agent_version, start = key
        sample = self.latency_sample(sample_size)
        thumbs = self.thumbs_up + self.thumbs_down
        return {
            "agent_id": agent_id,
            "agent_version": agent_version,
            "window_start": start,
            "window_end": start + window_ms,
            "is_final": True,
            "update_seq": FINAL_UPDATE_SEQ,
            "interactions": self.interactions,
            "sessions": self.sessions,
            **{f"sessions_{name}": count for name, count in self.outcomes.items()},
            "completion_rate": _ratio(self.outcomes["completed"], self.sessions),
            "abandonment_rate": _ratio(self.outcomes["abandoned"], self.sessions),
            "failure_rate": _ratio(self.outcomes["failed"], self.sessions),
            "thumbs_up": self.thumbs_up,
            "thumbs_down": self.thumbs_down,
            "thumbs_up_rate": self.thumbs_up / thumbs if thumbs else None,
            "ratings": len(self.ratings),
            "mean_rating": sum(self.ratings) / len(self.ratings) if self.ratings else None,
            "corrections": self.corrections,
            "correction_rate": _ratio(self.corrections, self.interactions),
            "interactions_with_feedback": self.with_feedback,
            "feedback_coverage": _ratio(self.with_feedback, self.interactions),
            "latency_p50_ms": percentile(sample, 0.50),
            "latency_p95_ms": percentile(sample, 0.95),
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "tool_error_rate": _ratio(self.tool_errors, self.tool_calls),
            "cost_usd": self.cost_nanos / _NANOS,
        }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
