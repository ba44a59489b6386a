"""Live monitoring over final metric windows: which window is mature, what it is compared
with, and the test that decides. Plain data in, alert records out; no I/O.

Why not a library: the maturity bookkeeping over the processor's windows is ours; the test
itself is scipy's Fisher exact test, widened by the reference's dispersion, and statsmodels'
Newcombe interval.

How a verdict is reached (docs/monitoring.md):
- the processor counts evidence in the window of its own event time (an outcome when its
  session closes, feedback when it is given), so what a window's turns earned lands in the
  windows after it. Window W is compared for a signal once every window up to W's end plus the
  signal's maturity delay is final; its *evidence* is those windows' pooled counts, and, for a
  signal whose span is short (tool errors count in the turn's own window), also spans doubling
  back into the reference gap: a change a few windows old is judged on every matured window
  since it;
- the signals: sessions completed (against abandoned, failed or escalated: one multinomial, one
  test), tool calls failing, thumbs, the mean rating and the share of corrections;
- its *reference* is the evidence of the `live_reference_s` that end `reference_gap_s` before
  W (so a drop is still compared with evidence from before it a few windows later), leaving
  out the version's first maturity span (a stream's first outcomes and feedback are not
  representative yet);
- no verdict with fewer than the minimum counts, or while traffic volume changed;
- a one-sided exact test for the drop of the rate (a rise for tool errors and corrections),
  widened by how much more the reference's windows vary than independent trials would, at
  the Bonferroni level family_alpha / (versions x windows in horizon_s x the tests of the
  window: the evidence spans of the signals whose reference can reach a verdict), and a change
  of at least `min_effect`. After an alert, the same version and signal stay quiet for a
  reference span.
"""

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import fisher_exact, norm
from statsmodels.stats.proportion import confint_proportions_2indep

from curation.monitoring.alerts import make_alert
from curation.monitoring.live_rules import LiveRules

__all__ = [
    "SIGNALS",
    "LiveMonitor",
    "Signal",
    "Verdict",
    "drop_test",
    "mean_drop_test",
    "overdispersed",
]

Counts = dict[str, int]
MIN_SCORE_VARIANCE = 0.1  # a floor for the estimate: ratings 1-5 are never all alike
MIN_VARIANCE_WINDOWS = 4  # reference windows with scores needed to estimate their variance


@dataclass(frozen=True)
class Signal:
    """One rate the monitor watches: hits / trials from a metric record, and which way is bad."""

    name: str
    metric: str
    unit: str
    worse_when_lower: bool
    hits: Callable[[Mapping[str, Any]], int]
    trials: Callable[[Mapping[str, Any]], int]
    maturity: Callable[[LiveRules], float]
    # A mean of scores (hits = their sum) rather than a rate: a z-test with the variance of
    # one score estimated from the reference windows' spread.
    mean: bool = False


def _rating_sum(r: Mapping[str, Any]) -> int:
    return round(float(r["mean_rating"] or 0.0) * int(r["ratings"]))


def _feedback_total(r: Mapping[str, Any]) -> int:
    return int(r["thumbs_up"]) + int(r["thumbs_down"]) + int(r["ratings"]) + int(r["corrections"])


def _count(name: str) -> Callable[[Mapping[str, Any]], int]:
    """A counter of the metric record (0 where an older record lacks it)."""
    return lambda r: int(r.get(name) or 0)


# The per-session, per-turn and feedback counts the metric windows carry, each with the direction
# that means worse answers. A session's outcome is one multinomial (completed, abandoned, failed,
# escalated): worse answers move sessions from completed to the other three, so its one test is
# completed against all the others; a test of each share on its own would spend the error budget
# three more times on the same sessions. Retries are not used: the windows carry no retry count.
SIGNALS: tuple[Signal, ...] = (
    Signal(
        "completion",
        "completion_rate",
        "sessions",
        True,
        _count("sessions_completed"),
        _count("sessions"),
        lambda rules: rules.completion_maturity_s,
    ),
    Signal(
        "tool_errors",
        "tool_error_rate",
        "tool calls",
        False,
        _count("tool_errors"),
        _count("tool_calls"),
        lambda rules: rules.tool_errors_maturity_s,
    ),
    Signal(
        "thumbs",
        "thumbs_up_rate",
        "thumbs",
        True,
        _count("thumbs_up"),
        lambda r: int(r["thumbs_up"]) + int(r["thumbs_down"]),
        lambda rules: rules.thumbs_maturity_s,
    ),
    Signal(
        "ratings",
        "mean_rating",
        "ratings",
        True,
        _rating_sum,
        _count("ratings"),
        lambda rules: rules.thumbs_maturity_s,
        mean=True,
    ),
    Signal(
        "corrections",
        "correction_share",
        "scored feedback",
        False,
        _count("corrections"),
        _feedback_total,
        lambda rules: rules.corrections_maturity_s,
    ),
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing one matured window for one version and signal."""

    agent: tuple[str, str]
    signal: str
    window_start: int
    window_end: int
    evidence: tuple[int, int]  # epoch ms, [start, end) of the pooled evidence windows
    reference: tuple[int, int]
    current_hits: int
    current_trials: int
    reference_hits: int
    reference_trials: int
    p_value: float | None
    alpha: float
    alert: dict[str, Any] | None = None
    reason: str = ""  # why no verdict ("" when tested)


def drop_test(
    hits: int, trials: int, ref_hits: int, ref_trials: int, worse_when_lower: bool
) -> float:
    """One-sided p-value that the current rate is worse than the reference's: Fisher's exact
    test of the 2x2 table (conditional on the total hits); 1.0 when the test is undefined (no
    variation at all).

    Exact, not a normal approximation: at the Bonferroni levels used here (z about 5) the
    score test's normal tail is far too thin for a small rate that rises (tool errors 21 of
    52 against 11.9%: score p 4.7e-10, exact 3e-7), and too thick for one that falls."""
    if hits + ref_hits in (0, trials + ref_trials):
        return 1.0
    table = [[hits, trials - hits], [ref_hits, ref_trials - ref_hits]]
    result = fisher_exact(table, alternative="less" if worse_when_lower else "greater")
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else min(1.0, p_value)


def mean_drop_test(
    total: int, n: int, ref_total: int, ref_n: int, variance: float, worse_when_lower: bool
) -> float:
    """One-sided p-value that the current mean score is worse than the reference's (z-test
    with the variance of one score given)."""
    error = math.sqrt(max(variance, 1e-12) * (1 / n + 1 / ref_n))
    z = (total / n - ref_total / ref_n) / error
    return float(norm.cdf(z) if worse_when_lower else norm.sf(z))


def overdispersed(p_value: float, dispersion: float) -> float:
    """A one-sided p-value of a binomial test with its variance multiplied by `dispersion`
    (quasi-binomial): the z-statistic shrinks by its square root."""
    if dispersion <= 1.0 or p_value >= 0.5:
        return p_value
    return float(norm.sf(norm.isf(p_value) / math.sqrt(dispersion)))


@dataclass
class _Test:
    """One evidence span tried for a compared window: its counts and, once tested, the
    one-sided p-value and how much worse than the reference it is."""

    evidence: tuple[int, int]
    hits: int
    trials: int
    p_value: float | None = None
    worse: float = 0.0

    def beats(self, other: "_Test") -> bool:
        """Stronger evidence of a drop: the smaller p-value."""
        return other.p_value is None or (self.p_value or 1.0) < other.p_value


@dataclass
class _Version:
    first_start: int
    newest_end: int = 0
    windows: dict[int, Counts] = field(default_factory=dict)
    next_start: dict[str, int] = field(default_factory=dict)  # per signal: next window to compare
    quiet_until: dict[str, int] = field(default_factory=dict)
    tests: dict[int, int] = field(default_factory=dict)  # per window: tests sharing its budget


class LiveMonitor:
    """Feed final metric records (any order across versions, window order within one);
    `add` returns the verdicts reached because of it (alerts inside)."""

    def __init__(self, rules: LiveRules, signals: tuple[Signal, ...] = SIGNALS) -> None:
        self.rules = rules
        self.signals = signals
        self.window_ms: int | None = None
        self.versions: dict[tuple[str, str], _Version] = {}

    def alpha(self, tests: int) -> float:
        """The level of one test of a window whose budget is shared by `tests` tests:
        family_alpha over versions x windows in the horizon, then over those tests."""
        assert self.window_ms is not None
        windows = max(1.0, self.rules.horizon_s * 1000 / self.window_ms)
        return self.rules.family_alpha / (max(1, len(self.versions)) * windows * max(1, tests))

    def tests_of(self, version: "_Version", start: int) -> int:
        """How many tests share window `start`'s error budget: every evidence span
        (`lookback`) of every signal whose reference holds enough to reach a verdict.

        Which signals qualify depends on the reference's counts only (final before any of the
        window's tests, and not on whether the rates moved), so the union bound holds while a
        signal without feedback (none in the reference) costs the others nothing.
        """
        known = version.tests.get(start)
        if known is None:
            known = sum(
                len(self.lookback(signal))
                for signal in self.signals
                if self._reference(version, signal, start)[3] is not None
            )
            version.tests[start] = known
        return known

    def lookback(self, signal: Signal) -> tuple[int, ...]:
        """How many windows before the compared one its evidence may also pool: the evidence
        spans doubling from the signal's maturity span (1 + span windows) as long as they stay
        within the reference gap (evidence never overlaps its reference).

        A signal that matures at once (tool errors) would otherwise be judged on one window
        alone; with the doubling spans, a change that began a few windows earlier is tested on
        all the matured windows since it (a scan over the change point) at a Bonferroni price
        logarithmic in the gap. A signal with a long maturity span already pools that much.
        """
        assert self.window_ms is not None
        gap = int(self.rules.reference_gap_s * 1000 // self.window_ms)
        base = 1 + self.span(signal)
        backs, length = [0], 2 * base
        while length <= base + gap:
            backs.append(length - base)
            length *= 2
        return tuple(backs)

    def span(self, signal: Signal) -> int:
        """Windows of evidence after a compared window (its maturity delay, rounded up)."""
        assert self.window_ms is not None
        return math.ceil(signal.maturity(self.rules) * 1000 / self.window_ms)

    def add(self, record: Mapping[str, Any]) -> list[Verdict]:
        """Take one metric record; running updates (not final) are ignored."""
        if not record.get("is_final"):
            return []
        start, end = int(record["window_start"]), int(record["window_end"])
        if self.window_ms is None:
            self.window_ms = end - start
        elif end - start != self.window_ms:
            raise ValueError(
                f"metric windows of {end - start} ms after windows of {self.window_ms} ms: "
                "one monitor follows one processor configuration"
            )
        agent = (str(record["agent_id"]), str(record["agent_version"]))
        version = self.versions.get(agent)
        if version is None:
            version = self.versions[agent] = _Version(first_start=start)
        counts: Counts = {"interactions": int(record["interactions"])}
        for signal in self.signals:
            counts[signal.name] = signal.hits(record)
            counts[signal.name + "_trials"] = signal.trials(record)
        version.windows[start] = counts
        version.newest_end = max(version.newest_end, end)
        return self._mature(agent, version)

    def _mature(self, agent: tuple[str, str], version: _Version) -> list[Verdict]:
        assert self.window_ms is not None
        w = self.window_ms
        verdicts = []
        for signal in self.signals:
            span = self.span(signal)
            # The first maturity span of a version is warm-up: no reference before it.
            start = version.next_start.get(signal.name, version.first_start + span * w)
            while start + (1 + span) * w <= version.newest_end:
                verdicts.append(self._compare(agent, version, signal, start, span))
                start += w
            version.next_start[signal.name] = start
        self._forget(version)
        return verdicts

    def _forget(self, version: _Version) -> None:
        """Drop windows no comparison can reach any more."""
        assert self.window_ms is not None
        reach = self.rules.live_reference_s + self.rules.reference_gap_s
        oldest = min(version.next_start.values()) - int(reach * 1000)
        for start in [s for s in version.windows if s < oldest - self.window_ms]:
            del version.windows[start]
        for start in [s for s in version.tests if s < min(version.next_start.values())]:
            del version.tests[start]

    def _sum(self, version: _Version, name: str, begin: int, end: int) -> tuple[int, int]:
        hits = trials = 0
        for start, counts in version.windows.items():
            if begin <= start < end:
                hits += counts[name]
                trials += counts[name + "_trials"]
        return hits, trials

    def _compare(
        self, agent: tuple[str, str], version: _Version, signal: Signal, start: int, span: int
    ) -> Verdict:
        assert self.window_ms is not None
        w, rules = self.window_ms, self.rules
        end = start + (1 + span) * w
        reference, ref_hits, ref_trials, variance, dispersion = self._reference(
            version, signal, start
        )
        alpha = self.alpha(self.tests_of(version, start))
        best: _Test | None = None
        reason = ""
        for back in self.lookback(signal):
            evidence = (start - back * w, end)
            hits, trials = self._sum(version, signal.name, *evidence)
            test = _Test(evidence, hits, trials)
            if trials < rules.min_current_trials:
                reason = "too few in the evidence"
            elif variance is None:
                reason = "too few in the reference"
            elif not self._volume_steady(version, evidence, reference):
                reason = "traffic volume changed"
            else:
                test.p_value = self._p_value(
                    signal, test, ref_hits, ref_trials, variance, dispersion
                )
                test.worse = self._worse(signal, test, ref_hits / ref_trials)
            if back == 0 or (test.p_value is not None and (best is None or test.beats(best))):
                best = test if test.p_value is not None or best is None else best
        assert best is not None

        def verdict(reason: str, alert: dict[str, Any] | None = None) -> Verdict:
            assert best is not None
            return Verdict(
                agent,
                signal.name,
                start,
                start + w,
                best.evidence,
                reference,
                best.hits,
                best.trials,
                ref_hits,
                ref_trials,
                best.p_value,
                alpha,
                alert,
                reason,
            )

        if best.p_value is None:
            return verdict(reason)
        min_effect = self._min_effect(signal, ref_hits / ref_trials)
        if best.worse < min_effect or best.p_value >= alpha:
            return verdict("")
        if start < version.quiet_until.get(signal.name, start):
            return verdict("alerted already")
        version.quiet_until[signal.name] = start + int(rules.live_reference_s * 1000)
        hits, trials = best.hits, best.trials
        change = hits / trials - ref_hits / ref_trials
        if signal.mean and variance is not None:
            half = float(norm.isf(alpha)) * math.sqrt(variance * (1 / trials + 1 / ref_trials))
            low, high = change - half, change + half
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                low, high = confint_proportions_2indep(
                    hits,
                    trials,
                    ref_hits,
                    ref_trials,
                    method="newcomb",
                    compare="diff",
                    alpha=2 * alpha,
                )
            # Overdispersed counts: the interval widens as the test's variance does.
            widen = math.sqrt(dispersion)
            low, high = change - (change - low) * widen, change + (high - change) * widen
        found = verdict("")
        alert = self._alert(found, signal, (low, high), dispersion)
        return Verdict(**{**found.__dict__, "alert": alert})

    def _reference(
        self, version: "_Version", signal: Signal, start: int
    ) -> tuple[tuple[int, int], int, int, float | None, float]:
        """The reference of window `start` for `signal`: its range, counts, the variance of
        one trial (None: too few to reach a verdict) and, for a rate, its dispersion (1 for a
        mean). The version's first maturity span is warm-up (a stream's first outcomes and
        feedback are not representative) and never in it; the reference ends
        `reference_gap_s` before the window."""
        assert self.window_ms is not None
        w, rules = self.window_ms, self.rules
        ref_end = start - int(rules.reference_gap_s * 1000)
        ref_begin = max(
            ref_end - int(rules.live_reference_s * 1000),
            version.first_start + self.span(signal) * w,
        )
        reference = (ref_begin, max(ref_begin, ref_end))
        hits, trials = self._sum(version, signal.name, *reference)
        variance: float | None = None
        dispersion = 1.0
        if trials >= rules.min_reference_trials:
            if signal.mean:
                variance = self._score_variance(version, signal.name, reference)
            else:
                variance = hits / trials * (1 - hits / trials)
                dispersion = self._dispersion(version, signal.name, reference, hits / trials)
        return reference, hits, trials, variance, dispersion

    @staticmethod
    def _p_value(
        signal: Signal,
        test: "_Test",
        ref_hits: int,
        ref_trials: int,
        variance: float | None,
        dispersion: float,
    ) -> float:
        if signal.mean and variance is not None:
            return mean_drop_test(
                test.hits, test.trials, ref_hits, ref_trials, variance, signal.worse_when_lower
            )
        p_value = drop_test(test.hits, test.trials, ref_hits, ref_trials, signal.worse_when_lower)
        return overdispersed(p_value, dispersion)

    @staticmethod
    def _worse(signal: Signal, test: "_Test", ref_rate: float) -> float:
        change = test.hits / test.trials - ref_rate
        return -change if signal.worse_when_lower else change

    def _min_effect(self, signal: Signal, ref_rate: float) -> float:
        """The smallest change worth an alert: for a rate, the smaller of `min_effect` and
        `min_relative_effect` of the reference (a small rate that collapses, 6% -> 2%, matters
        as much as a large one falling)."""
        if signal.mean:
            return self.rules.min_rating_drop
        return min(self.rules.min_effect, self.rules.min_relative_effect * ref_rate)

    def _score_variance(
        self, version: _Version, name: str, reference: tuple[int, int]
    ) -> float | None:
        """Variance of one score, from the spread of the reference windows' means (each
        window's squared deviation weighted by its count); None with too few windows."""
        windows = self._reference_windows(version, name, reference)
        if len(windows) < MIN_VARIANCE_WINDOWS:
            return None
        n = sum(count for _, count in windows)
        mean = sum(total for total, _ in windows) / n
        spread = sum(count * (total / count - mean) ** 2 for total, count in windows)
        return max(spread / (len(windows) - 1), MIN_SCORE_VARIANCE)

    @staticmethod
    def _reference_windows(
        version: _Version, name: str, reference: tuple[int, int]
    ) -> list[tuple[int, int]]:
        """(hits, trials) of each reference window that has trials of `name`."""
        return [
            (c[name], c[name + "_trials"])
            for s, c in version.windows.items()
            if reference[0] <= s < reference[1] and c[name + "_trials"]
        ]

    def _dispersion(
        self, version: _Version, name: str, reference: tuple[int, int], rate: float
    ) -> float:
        """How much more the reference windows' rates vary than independent trials would (the
        quasi-binomial dispersion: Pearson's X^2 over the windows / their degrees of freedom),
        at least 1; 1 with too few windows to tell.

        Trials are not always independent: the tool calls of one turn fail together (a bad
        answer often comes with a failed tool), and thumbs of one session or rater agree. The
        binomial variance then understates the spread, and a burst of such calls looked like a
        drop (23 of 42 tool calls failing against 21.6%, p 1.5e-7, on traffic without drift).
        """
        if rate <= 0.0 or rate >= 1.0:
            return 1.0
        windows = self._reference_windows(version, name, reference)
        if len(windows) < MIN_VARIANCE_WINDOWS:
            return 1.0
        pearson = sum(
            (hits - trials * rate) ** 2 / (trials * rate * (1 - rate)) for hits, trials in windows
        )
        return max(1.0, pearson / (len(windows) - 1))

    def _volume_steady(
        self, version: _Version, evidence: tuple[int, int], reference: tuple[int, int]
    ) -> bool:
        assert self.window_ms is not None
        w = self.window_ms
        ref_windows = max(1, (reference[1] - reference[0]) // w)
        ref_mean = (
            sum(
                c["interactions"]
                for s, c in version.windows.items()
                if reference[0] <= s < reference[1]
            )
            / ref_windows
        )
        if ref_mean == 0:
            return False  # the version had no turns in the reference: nothing is comparable
        floor = self.rules.min_volume_ratio * ref_mean
        for start in range(evidence[0], evidence[1], w):
            counts = version.windows.get(start)
            if (counts["interactions"] if counts else 0) < floor:
                return False
        return True

    def _alert(
        self,
        found: Verdict,
        signal: Signal,
        interval: tuple[float, float],
        dispersion: float = 1.0,
    ) -> dict[str, Any]:
        rules = self.rules
        rate = found.current_hits / found.current_trials
        ref_rate = found.reference_hits / found.reference_trials
        change = rate - ref_rate
        agent_id, agent_version = found.agent
        min_effect = self._min_effect(signal, ref_rate)
        threshold = ref_rate - min_effect if signal.worse_when_lower else ref_rate + min_effect
        worse = -change if signal.worse_when_lower else change
        if signal.mean:
            now, before = f"{rate:.2f}", f"{ref_rate:.2f}"
            counts = f"{found.current_trials} {signal.unit}"
            ref_counts = f"{found.reference_trials}"
            moved = f"{change:+.2f}, interval {interval[0]:+.2f} to {interval[1]:+.2f}"
        else:
            now, before = f"{rate:.1%}", f"{ref_rate:.1%}"
            counts = f"{found.current_hits}/{found.current_trials} {signal.unit}"
            ref_counts = f"{found.reference_hits}/{found.reference_trials}"
            moved = (
                f"{change * 100:+.1f} points, interval {interval[0] * 100:+.1f} to "
                f"{interval[1] * 100:+.1f}"
            )
        message = (
            f"{agent_id} {agent_version}: {signal.metric} {now} ({counts}, evidence "
            f"{_clock(found.evidence[0])}-{_clock(found.evidence[1])}) vs {before} "
            f"({ref_counts}, reference {_clock(found.reference[0])}-"
            f"{_clock(found.reference[1])}); change {moved}; p {found.p_value:.2g} < "
            f"{found.alpha:.2g}; window {_clock(found.window_start)} compared after "
            f"{signal.maturity(rules):.0f} s"
        )
        evidence = {
            "current_hits": float(found.current_hits),
            "current_trials": float(found.current_trials),
            "reference_hits": float(found.reference_hits),
            "reference_trials": float(found.reference_trials),
            "current_rate": rate,
            "reference_rate": ref_rate,
            "effect": change,
            "interval_low": float(interval[0]),
            "interval_high": float(interval[1]),
            "p_value": float(found.p_value or 0.0),
            "alpha": found.alpha,
            "evidence_start": float(found.evidence[0]),
            "evidence_end": float(found.evidence[1]),
            "reference_start": float(found.reference[0]),
            "reference_end": float(found.reference[1]),
            "maturity_s": signal.maturity(rules),
            "dispersion": dispersion,
        }
        return make_alert(
            kind="regression",
            severity="critical" if worse >= 4 * min_effect else "warning",
            agent_id=agent_id,
            agent_version=agent_version,
            metric=f"live_{signal.metric}",
            value=rate,
            threshold=threshold,
            message=message,
            window=(found.window_start, found.window_end),
            evidence=evidence,
        )


def _clock(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%H:%M:%S")
