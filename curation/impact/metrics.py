"""The metrics a release is judged on: what each averages per session, which way is better, and
the smallest difference that matters (the margin the sample size is planned for).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from curation.impact.observations import SessionObservation

__all__ = ["METRICS", "PRIMARY_METRIC", "MetricSpec", "metric_named"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: the values a session contributes, and how to read a difference."""

    name: str
    description: str
    higher_is_better: bool
    margin: float
    relative_margin: bool
    units: Callable[[SessionObservation], Sequence[float]]

    def margin_for(self, baseline_mean: float) -> float:
        """The smallest difference that matters, in the metric's own unit."""
        return self.margin * abs(baseline_mean) if self.relative_margin else self.margin


def _outcome(name: str) -> Callable[[SessionObservation], Sequence[float]]:
    """1 or 0 per session; nothing from a version that did not serve the session's first turn
    (`SessionObservation.outcome` None: the outcome is the first turn's version's)."""
    return lambda session: () if session.outcome is None else (float(session.outcome == name),)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "completion_rate",
        "share of sessions completed",
        True,
        0.05,
        False,
        _outcome("completed"),
    ),
    MetricSpec(
        "abandonment_rate",
        "share of sessions abandoned",
        False,
        0.05,
        False,
        _outcome("abandoned"),
    ),
    MetricSpec(
        "thumbs_up_rate",
        "share of thumbs votes that are up",
        True,
        0.05,
        False,
        lambda s: tuple(1.0 if up else 0.0 for up in s.thumbs),
    ),
    MetricSpec(
        "mean_rating",
        "mean rating (1-5)",
        True,
        0.25,
        False,
        lambda s: tuple(float(r) for r in s.ratings),
    ),
    MetricSpec(
        "correction_rate",
        "share of turns corrected by feedback",
        False,
        0.01,
        False,
        lambda s: tuple(1.0 if c else 0.0 for c in s.turn_corrected),
    ),
    MetricSpec(
        "latency_ms",
        "mean latency of a turn (ms); margin 10% of the baseline",
        False,
        0.10,
        True,
        lambda s: s.turn_latencies_ms,
    ),
    MetricSpec(
        "cost_usd",
        "mean cost of a session (USD); margin 10% of the baseline",
        False,
        0.10,
        True,
        lambda s: (s.cost_usd,),
    ),
)

PRIMARY_METRIC = "completion_rate"


def metric_named(name: str) -> MetricSpec:
    """The metric called `name`; a clear error naming the known ones otherwise."""
    for spec in METRICS:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(m.name for m in METRICS)}")
