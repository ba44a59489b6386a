"""Release impact: is an agent's candidate version better than its baseline, by how much, and
how sure are we? Session-level statistics over comparable traffic read from the lake.
"""

from curation.impact.compare import (
    MetricImpact,
    ReleaseComparison,
    Verdict,
    compare_versions,
)
from curation.impact.metrics import METRICS, MetricSpec
from curation.impact.observations import (
    SessionObservation,
    comparable_sessions,
    observations_from_turns,
)

__all__ = [
    "METRICS",
    "MetricImpact",
    "MetricSpec",
    "ReleaseComparison",
    "SessionObservation",
    "Verdict",
    "comparable_sessions",
    "compare_versions",
    "observations_from_turns",
]
