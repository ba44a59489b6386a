"""One monitoring pass over the lake: statistics per agent version in the current event-time
window (and the reference window before it), and the alerts they raise.

Monitoring runs over the lake rather than in the stream: the enriched table holds feedback,
signals and outcomes already joined, every pass is reproducible on a pinned Delta version, and
the checks are plain functions that tests drive directly.
"""

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curation.features import add_turn_features
from curation.monitoring.alerts import make_alert
from curation.monitoring.quality import (
    VERSION,
    agreement,
    coverage,
    explode_feedback,
    feedback_distribution,
    population_stability_index,
    positive_rates,
    rater_activity,
    two_proportion_z,
)
from curation.monitoring.rules import MonitorRules
from curation.source import read_enriched

__all__ = ["MonitorReport", "check_quality", "run_monitor"]


@dataclass
class MonitorReport:
    """What one pass saw: its windows, per-version statistics and the alerts raised."""

    window_start: int
    window_end: int
    reference_start: int
    delta_version: int | None
    stats: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _epoch_ms(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("ms")


def _in(frame: pl.DataFrame, column: str, start: int, end: int) -> pl.DataFrame:
    return frame.filter(_epoch_ms(column).is_between(start, end, closed="left"))


def check_quality(
    turns: pl.DataFrame, rules: MonitorRules, until_ms: int | None = None
) -> MonitorReport:
    """Run every check on featured turns (one row per turn, latest revision).

    The current window ends at `until_ms`; by default `maturity_s` before the newest turn, so
    that the late feedback of the window's turns has had time to arrive (a window ending at the
    newest event holds turns with no feedback yet, and after a catch-up only stragglers).
    """
    feedback = explode_feedback(turns)
    if until_ms is None:
        newest = turns.select(_epoch_ms("event_time").max()).item()
        until_ms = (newest or 0) + 1 - rules.maturity_s * 1000
    start = until_ms - rules.window_s * 1000
    reference_start = start - rules.reference_s * 1000
    report = MonitorReport(start, until_ms, reference_start, None)
    current_turns = _in(turns, "event_time", start, until_ms)
    current_feedback = _in(feedback, "event_time", start, until_ms)
    reference_feedback = _in(feedback, "event_time", reference_start, start)
    window = (start, until_ms)

    stats = (
        coverage(current_turns)
        .join(agreement(current_turns), on=VERSION, how="left")
        .join(positive_rates(current_feedback), on=VERSION, how="left")
    )
    current_dist = feedback_distribution(current_feedback)
    reference_dist = feedback_distribution(reference_feedback)
    reference_rates = {
        (row["agent_id"], row["agent_version"]): row
        for row in positive_rates(reference_feedback).iter_rows(named=True)
    }
    for row in stats.iter_rows(named=True):
        version = (row["agent_id"], row["agent_version"])
        row["psi"] = _drift(report, rules, window, version, current_dist, reference_dist)
        _coverage(report, rules, window, row)
        _agreement(report, rules, window, row)
        _against_reference(report, rules, window, row, reference_rates.get(version))
        report.stats.append(row)
    _against_siblings(report, rules, window, stats)
    _rater_spam(report, rules, window, current_feedback)
    report.alerts.sort(
        key=lambda a: (
            a["kind"],
            a["agent_id"] or "",
            a["agent_version"] or "",
            a["metric"],
            a["alert_id"],
        )
    )
    return report


def run_monitor(
    lake_uri: str,
    rules: MonitorRules,
    *,
    prefix: str = "",
    version: int | None = None,
    until_ms: int | None = None,
) -> MonitorReport:
    """Read the enriched table (pinned `version`, default latest) and check it."""
    snapshot = read_enriched(lake_uri, prefix, version)
    report = check_quality(add_turn_features(snapshot.turns), rules, until_ms)
    report.delta_version = snapshot.version
    return report


def _name(agent_id: str, agent_version: str) -> str:
    return f"{agent_id} {agent_version}"


def _drift(
    report: MonitorReport,
    rules: MonitorRules,
    window: tuple[int, int],
    version: tuple[str, str],
    current: dict[tuple[str, str], dict[str, int]],
    reference: dict[tuple[str, str], dict[str, int]],
) -> float | None:
    now, before = current.get(version, {}), reference.get(version, {})
    if min(sum(now.values()), sum(before.values())) < rules.min_feedback_for_drift:
        return None
    psi = population_stability_index(before, now)
    if psi > rules.max_psi:
        report.alerts.append(
            make_alert(
                kind="rating_drift",
                severity="critical" if psi > 2 * rules.max_psi else "warning",
                agent_id=version[0],
                agent_version=version[1],
                metric="feedback_psi",
                value=psi,
                threshold=rules.max_psi,
                message=f"{_name(*version)}: feedback distribution shifted (PSI {psi:.2f} > "
                f"{rules.max_psi}) against the reference window",
                window=window,
            )
        )
    return psi


def _coverage(
    report: MonitorReport, rules: MonitorRules, window: tuple[int, int], row: dict[str, Any]
) -> None:
    if row["turns"] < rules.min_turns_for_coverage or row["coverage"] >= rules.min_coverage:
        return
    report.alerts.append(
        make_alert(
            kind="low_coverage",
            severity="warning",
            agent_id=row["agent_id"],
            agent_version=row["agent_version"],
            metric="feedback_coverage",
            value=row["coverage"],
            threshold=rules.min_coverage,
            message=f"{_name(row['agent_id'], row['agent_version'])}: only "
            f"{row['coverage']:.1%} of {row['turns']} turns got explicit feedback",
            window=window,
        )
    )


def _agreement(
    report: MonitorReport, rules: MonitorRules, window: tuple[int, int], row: dict[str, Any]
) -> None:
    signed = row.get("signed_turns") or 0
    if signed < rules.min_turns_for_agreement or row["agreement"] >= rules.min_agreement:
        return
    report.alerts.append(
        make_alert(
            kind="signal_disagreement",
            severity="warning",
            agent_id=row["agent_id"],
            agent_version=row["agent_version"],
            metric="explicit_implicit_agreement",
            value=row["agreement"],
            threshold=rules.min_agreement,
            message=f"{_name(row['agent_id'], row['agent_version'])}: explicit feedback agrees "
            f"with session outcomes and retries on only {row['agreement']:.1%} of {signed} turns",
            window=window,
        )
    )


def _regression(
    report: MonitorReport,
    rules: MonitorRules,
    window: tuple[int, int],
    row: dict[str, Any],
    baseline: tuple[int, int],
    metric: str,
    against: str,
) -> None:
    positive, signed = row.get("positive") or 0, row.get("signed") or 0
    base_positive, base_signed = baseline
    if min(signed, base_signed) < rules.min_feedback_for_regression:
        return
    drop = base_positive / base_signed - positive / signed
    z = two_proportion_z(positive, signed, base_positive, base_signed)
    if drop < rules.max_regression_drop or z > -rules.min_regression_z:
        return
    report.alerts.append(
        make_alert(
            kind="regression",
            severity="critical" if drop > 2 * rules.max_regression_drop else "warning",
            agent_id=row["agent_id"],
            agent_version=row["agent_version"],
            metric=metric,
            value=positive / signed,
            threshold=base_positive / base_signed - rules.max_regression_drop,
            message=f"{_name(row['agent_id'], row['agent_version'])}: positive feedback "
            f"{positive / signed:.1%} vs {base_positive / base_signed:.1%} {against} "
            f"(z {z:.1f})",
            window=window,
        )
    )


def _against_reference(
    report: MonitorReport,
    rules: MonitorRules,
    window: tuple[int, int],
    row: dict[str, Any],
    reference: dict[str, Any] | None,
) -> None:
    if reference is not None:
        baseline = (reference["positive"], reference["signed"])
        _regression(
            report,
            rules,
            window,
            row,
            baseline,
            "positive_rate_vs_reference",
            "in the reference window",
        )


def _against_siblings(
    report: MonitorReport, rules: MonitorRules, window: tuple[int, int], stats: pl.DataFrame
) -> None:
    """A version whose feedback is much worse than its agent's other versions' (same window)."""
    rated = stats.filter(pl.col("signed").is_not_null())
    for row in rated.iter_rows(named=True):
        siblings = rated.filter(
            (pl.col("agent_id") == row["agent_id"])
            & (pl.col("agent_version") != row["agent_version"])
        )
        if siblings.is_empty():
            continue
        baseline = (int(siblings["positive"].sum()), int(siblings["signed"].sum()))
        _regression(
            report,
            rules,
            window,
            row,
            baseline,
            "positive_rate_vs_siblings",
            "for the agent's other versions",
        )


def _rater_spam(
    report: MonitorReport, rules: MonitorRules, window: tuple[int, int], feedback: pl.DataFrame
) -> None:
    for rater in rater_activity(feedback).iter_rows(named=True):
        count, repeated = rater["feedback"], rater["repeated_share"]
        if count < rules.min_rater_feedback_for_spam:
            continue
        checks = [
            ("rater_feedback_count", count, rules.max_rater_feedback, "feedback events"),
            (
                "rater_repeated_share",
                repeated,
                rules.max_rater_duplicate_share,
                "share of repeated feedback on the same target",
            ),
        ]
        for metric, value, threshold, what in checks:
            if value <= threshold:
                continue
            report.alerts.append(
                make_alert(
                    kind="rater_spam",
                    severity="warning",
                    agent_id=rater["agent_id"],
                    agent_version=None,
                    metric=metric,
                    value=value,
                    threshold=threshold,
                    message=f"rater {rater['rater_id']}: {what} {value:.3g} > {threshold:.3g} "
                    "in the window; their feedback may be duplicated or spam",
                    subject=rater["rater_id"],
                    window=window,
                )
            )
