"""The ReleaseImpact record of a comparison, and its key on the release-impact topic."""

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from curation.impact.compare import ReleaseComparison, Verdict

__all__ = ["impact_key", "release_impact_record"]


def _symbol(verdict: Verdict) -> str:
    return verdict.replace(" ", "_")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def release_impact_record(comparison: ReleaseComparison, created_at_ms: int) -> dict[str, Any]:
    """The Avro ReleaseImpact of a comparison; its id repeats when nothing changed."""
    identity = "|".join(
        [
            comparison.agent_id,
            comparison.baseline,
            comparison.candidate,
            str(comparison.window_start_ms),
            str(comparison.window_end_ms),
            comparison.verdict,
        ]
    )
    return {
        "impact_id": hashlib.sha256(identity.encode()).hexdigest()[:32],
        "agent_id": comparison.agent_id,
        "baseline": comparison.baseline,
        "candidate": comparison.candidate,
        "created_at": created_at_ms,
        "window_start": comparison.window_start_ms,
        "window_end": comparison.window_end_ms,
        "verdict": _symbol(comparison.verdict),
        "primary_metric": comparison.primary,
        "confidence": comparison.confidence,
        "power": comparison.power,
        "sessions_needed": comparison.sessions_needed,
        "regressions": comparison.regressions,
        "metrics": [
            {
                "metric": m.metric,
                "higher_is_better": m.higher_is_better,
                "baseline_mean": _number(m.baseline_mean),
                "candidate_mean": _number(m.candidate_mean),
                "difference": _number(m.difference),
                "ci_low": _number(m.ci_low),
                "ci_high": _number(m.ci_high),
                "p_value": _number(m.p_value),
                "margin": _number(m.margin),
                "baseline_sessions": m.baseline_sessions,
                "candidate_sessions": m.candidate_sessions,
                "sessions_needed": m.sessions_needed,
                "verdict": _symbol(m.verdict),
            }
            for m in comparison.metrics
        ],
    }


def impact_key(record: Mapping[str, Any]) -> bytes:
    """The topic's key: agent_id/candidate."""
    return f"{record['agent_id']}/{record['candidate']}".encode()
