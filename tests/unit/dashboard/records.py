"""Valid QualityMetric / DeadLetter / QualityAlert / ReleaseImpact records for the dashboard's
tests."""

from typing import Any

__all__ = [
    "MINUTE_MS",
    "START_MS",
    "alert_record",
    "dead_letter_record",
    "metric_record",
    "release_impact_record",
]

MINUTE_MS = 60_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the traffic generator's default start


def metric_record(
    minute: int = 0,
    agent_id: str = "support-bot",
    agent_version: str = "1.4.0",
    *,
    interactions: int = 10,
    sessions: int = 4,
    completed: int = 3,
    abandoned: int = 1,
    failed: int = 0,
    thumbs_up: int = 3,
    thumbs_down: int = 1,
    ratings: int = 2,
    mean_rating: float | None = 4.0,
    corrections: int = 1,
    latency_p95_ms: float | None = 1200.0,
    is_final: bool = True,
    update_seq: int = 0,
) -> dict[str, Any]:
    """One window of one agent version, with rates consistent with its counts."""
    start = START_MS + minute * MINUTE_MS
    thumbs = thumbs_up + thumbs_down
    return {
        "agent_id": agent_id,
        "agent_version": agent_version,
        "window_start": start,
        "window_end": start + MINUTE_MS,
        "is_final": is_final,
        "update_seq": update_seq,
        "interactions": interactions,
        "sessions": sessions,
        "sessions_completed": completed,
        "sessions_failed": failed,
        "sessions_abandoned": abandoned,
        "sessions_escalated": 0,
        "completion_rate": completed / sessions if sessions else 0.0,
        "abandonment_rate": abandoned / sessions if sessions else 0.0,
        "failure_rate": failed / sessions if sessions else 0.0,
        "thumbs_up": thumbs_up,
        "thumbs_down": thumbs_down,
        "thumbs_up_rate": thumbs_up / thumbs if thumbs else None,
        "ratings": ratings,
        "mean_rating": mean_rating if ratings else None,
        "corrections": corrections,
        "correction_rate": corrections / interactions if interactions else 0.0,
        "interactions_with_feedback": min(interactions, thumbs + ratings + corrections),
        "feedback_coverage": 0.5,
        "latency_p50_ms": None if latency_p95_ms is None else latency_p95_ms / 2,
        "latency_p95_ms": latency_p95_ms,
        "tool_calls": 5,
        "tool_errors": 1,
        "tool_error_rate": 0.2,
        "cost_usd": 0.01 * interactions,
    }


def dead_letter_record(reason: str = "undecodable", offset: int = 0) -> dict[str, Any]:
    return {
        "reason": reason,
        "message": f"test dead letter ({reason})",
        "source_topic": "agent.interactions.v1",
        "source_partition": 0,
        "source_offset": offset,
        "source_timestamp": START_MS,
        "key": b"session-1",
        "original": b"\x00\x01",
        "original_size": 2,
        "truncated": False,
        "detected_by": "processor",
        "detected_at": START_MS,
    }


def alert_record(
    minute: int = 0, alert_id: str = "regression/support-bot/1.5.0/0"
) -> dict[str, Any]:
    start = START_MS + minute * MINUTE_MS
    return {
        "alert_id": alert_id,
        "kind": "regression",
        "severity": "critical",
        "agent_id": "support-bot",
        "agent_version": "1.5.0",
        "metric": "thumbs_up_rate",
        "value": 0.41,
        "threshold": 0.6,
        "message": "thumbs-up rate fell below the previous version's",
        "window_start": start,
        "window_end": start + MINUTE_MS,
        "evidence": {},  # QualityAlert v2; the decoder fills it in for v1 records too
    }


def release_impact_record(
    verdict: str = "better",
    *,
    agent_id: str = "support-bot",
    baseline: str = "1.4.0",
    candidate: str = "1.5.0",
    created_at: int = START_MS + 10 * MINUTE_MS,
    difference: float = 0.1,
) -> dict[str, Any]:
    """A ReleaseImpact as `feedbackctl compare --publish` sends it: completion rate measured."""
    return {
        "impact_id": f"{agent_id}-{candidate}-{created_at}",
        "agent_id": agent_id,
        "baseline": baseline,
        "candidate": candidate,
        "created_at": created_at,
        "window_start": START_MS,
        "window_end": START_MS + 5 * MINUTE_MS,
        "verdict": verdict,
        "primary_metric": "completion_rate",
        "confidence": 0.95,
        "power": 0.8,
        "sessions_needed": 0,
        "regressions": [],
        "metrics": [
            {
                "metric": "completion_rate",
                "higher_is_better": True,
                "baseline_mean": 0.7,
                "candidate_mean": 0.7 + difference,
                "difference": difference,
                "ci_low": difference - 0.04,
                "ci_high": difference + 0.04,
                "p_value": 0.001,
                "margin": 0.02,
                "baseline_sessions": 1200,
                "candidate_sessions": 1150,
                "sessions_needed": 0,
                "verdict": verdict,
            }
        ],
    }
