"""Baseline against candidate, per metric: difference, confidence interval, test and verdict.

Each metric is the mean of its units (sessions, turns, votes or ratings); the difference is the
slope of an OLS regression of the units on a candidate indicator, with standard errors robust to
clustering by session (statsmodels `cov_type="cluster"`), so that a chatty session counts as one
unit of evidence, not as many. The verdict waits for the sample size planned for the metric's
margin (statsmodels power analysis): calling a release before that, on whichever look happens to
cross a threshold, is how A/B tests mislead.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import statsmodels.api as sm
from statsmodels.stats.power import NormalIndPower

from curation.impact.metrics import METRICS, PRIMARY_METRIC, MetricSpec, metric_named
from curation.impact.observations import SessionObservation, comparable_sessions

__all__ = [
    "MetricImpact",
    "ReleaseComparison",
    "Verdict",
    "compare_versions",
    "estimate_metric",
]

Verdict = Literal["better", "worse", "no difference", "not yet known"]
# Fewer units than this on either side and there is nothing to estimate.
_MIN_SESSIONS = 5


@dataclass(frozen=True)
class MetricImpact:
    """One metric's difference (candidate - baseline) and what it allows to say."""

    metric: str
    higher_is_better: bool
    baseline_mean: float
    candidate_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    margin: float
    baseline_sessions: int
    candidate_sessions: int
    sessions_needed: int  # per version, for the margin at the planned power
    verdict: Verdict


@dataclass(frozen=True)
class ReleaseComparison:
    """The candidate against the baseline over comparable traffic."""

    agent_id: str
    baseline: str
    candidate: str
    window_start_ms: int | None
    window_end_ms: int | None
    confidence: float
    power: float
    primary: str
    metrics: tuple[MetricImpact, ...]

    def metric(self, name: str) -> MetricImpact:
        return next(m for m in self.metrics if m.metric == name)

    @property
    def verdict(self) -> Verdict:
        """The primary metric's verdict."""
        return self.metric(self.primary).verdict

    @property
    def sessions_needed(self) -> int:
        return self.metric(self.primary).sessions_needed

    @property
    def regressions(self) -> list[str]:
        """Metrics the candidate made worse (listed beside the verdict)."""
        return [m.metric for m in self.metrics if m.verdict == "worse"]


def compare_versions(
    sessions: Sequence[SessionObservation],
    agent_id: str,
    baseline: str,
    candidate: str,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    primary: str = PRIMARY_METRIC,
    metrics: Sequence[MetricSpec] = METRICS,
) -> ReleaseComparison:
    """Compare two versions of an agent on the sessions both served in the same time span."""
    metric_named(primary)
    if not 0.5 < confidence < 1 or not 0 < power < 1:
        raise ValueError("confidence must be in (0.5, 1) and power in (0, 1)")
    base, cand = comparable_sessions(sessions, agent_id, baseline, candidate)
    starts = [s.started_ms for s in (*base, *cand)]
    window = (min(starts), max(starts)) if base and cand else (None, None)
    if not base or not cand:
        base, cand = [], []
    return ReleaseComparison(
        agent_id=agent_id,
        baseline=baseline,
        candidate=candidate,
        window_start_ms=window[0],
        window_end_ms=window[1],
        confidence=confidence,
        power=power,
        primary=primary,
        metrics=tuple(estimate_metric(spec, base, cand, confidence, power) for spec in metrics),
    )


def estimate_metric(
    spec: MetricSpec,
    baseline: Sequence[SessionObservation],
    candidate: Sequence[SessionObservation],
    confidence: float = 0.95,
    power: float = 0.8,
) -> MetricImpact:
    """The difference of one metric, its cluster-robust interval, test, and verdict."""
    values: list[float] = []
    treated: list[float] = []
    clusters: list[int] = []
    used = [0, 0]
    for arm, group in enumerate((baseline, candidate)):
        for session in group:
            units = spec.units(session)
            if units:
                values.extend(units)
                treated.extend([float(arm)] * len(units))
                clusters.extend([used[0] + used[1]] * len(units))
                used[arm] += 1
    n_base, n_cand = len(baseline), len(candidate)
    y = np.asarray(values)
    x = np.asarray(treated)
    base_mean = float(y[x == 0].mean()) if used[0] else math.nan
    cand_mean = float(y[x == 1].mean()) if used[1] else math.nan
    margin = spec.margin_for(base_mean) if used[0] else math.nan
    if min(used) < _MIN_SESSIONS or float(np.ptp(y)) == 0.0:
        return MetricImpact(
            spec.name, spec.higher_is_better, base_mean, cand_mean, cand_mean - base_mean,
            math.nan, math.nan, math.nan, margin, n_base, n_cand, 0, "not yet known",
        )  # fmt: skip
    fit = sm.OLS(y, np.column_stack([np.ones_like(x), x])).fit(
        cov_type="cluster", cov_kwds={"groups": np.asarray(clusters)}
    )
    difference = float(fit.params[1])
    low, high = (float(v) for v in fit.conf_int(alpha=1 - confidence)[1])
    needed = _sessions_needed(float(fit.bse[1]), n_base, n_cand, margin, confidence, power)
    verdict = _verdict(spec, low, high, margin, reached=n_base >= needed and n_cand >= needed)
    return MetricImpact(
        spec.name, spec.higher_is_better, base_mean, cand_mean, difference, low, high,
        float(fit.pvalues[1]), margin, n_base, n_cand, needed, verdict,
    )  # fmt: skip


def _sessions_needed(
    standard_error: float, n_base: int, n_cand: int, margin: float, confidence: float, power: float
) -> int:
    """Sessions per version that detect a difference of `margin` with `power`.

    The per-session spread is recovered from the clustered standard error (it already holds the
    clustering's design effect), then statsmodels solves the two-sample power equation for
    equal arms.
    """
    spread = standard_error / math.sqrt(1 / n_base + 1 / n_cand)
    if spread == 0 or not math.isfinite(margin) or margin <= 0:
        return 0
    nobs = NormalIndPower().solve_power(
        effect_size=margin / spread, alpha=1 - confidence, power=power, ratio=1.0
    )
    return math.ceil(float(nobs))


def _verdict(spec: MetricSpec, low: float, high: float, margin: float, reached: bool) -> Verdict:
    """The reading of an interval once the planned sample is reached.

    Inside (-margin, +margin): no difference that matters, even if it excludes zero. Otherwise
    an interval on one side of zero is better or worse; one across zero is no difference at the
    planned power.
    """
    if not reached:
        return "not yet known"
    if -margin < low and high < margin:
        return "no difference"
    if low > 0:
        return "better" if spec.higher_is_better else "worse"
    if high < 0:
        return "worse" if spec.higher_is_better else "better"
    return "no difference"
