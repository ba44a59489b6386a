"""The live monitor's decisions over synthetic final metric windows: maturity, reference,
minimum counts, volume guard, the test's level and the alert's evidence."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from curation.monitoring.live import SIGNALS, LiveMonitor, Verdict, drop_test, overdispersed
from curation.monitoring.live_rules import LiveRules
from schemas.serializer import serializer_for
from schemas.topics import ALERTS

W = 60_000
T0 = 1_767_225_600_000
RULES = LiveRules(
    completion_maturity_s=120,  # 2 windows of evidence after the compared one
    thumbs_maturity_s=120,
    corrections_maturity_s=120,
    tool_errors_maturity_s=120,
    live_reference_s=1200,
    reference_gap_s=120,
    min_reference_trials=100,
    min_current_trials=30,
)


def window(
    index: int,
    *,
    sessions: int = 100,
    completed: int = 70,
    thumbs_up: int = 40,
    thumbs_down: int = 20,
    corrections: int = 5,
    interactions: int = 300,
    mean_rating: float = 4.0,
    tool_calls: int = 200,
    tool_errors: int = 20,
    abandoned: int = 15,
    failed: int = 10,
    escalated: int = 5,
    version: str = "1.0",
    final: bool = True,
) -> dict[str, Any]:
    return {
        "agent_id": "bot",
        "agent_version": version,
        "window_start": T0 + index * W,
        "window_end": T0 + (index + 1) * W,
        "is_final": final,
        "interactions": interactions,
        "sessions": sessions,
        "sessions_completed": completed,
        "sessions_abandoned": abandoned,
        "sessions_failed": failed,
        "sessions_escalated": escalated,
        "tool_calls": tool_calls,
        "tool_errors": tool_errors,
        "thumbs_up": thumbs_up,
        "thumbs_down": thumbs_down,
        "ratings": 10,
        "mean_rating": mean_rating,
        "corrections": corrections,
    }


def feed(monitor: LiveMonitor, records: list[dict[str, Any]]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for record in records:
        verdicts += monitor.add(record)
    return verdicts


def alerts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [v.alert for v in verdicts if v.alert is not None]


def test_steady_traffic_raises_nothing_and_is_tested() -> None:
    verdicts = feed(LiveMonitor(RULES), [window(i) for i in range(40)])
    assert alerts(verdicts) == []
    assert sum(1 for v in verdicts if not v.reason) > 50  # verdicts were reached, all quiet


def test_a_window_is_compared_only_once_its_maturity_windows_are_final() -> None:
    monitor = LiveMonitor(RULES)
    seen: list[Verdict] = []
    for i in range(12):
        for verdict in monitor.add(window(i)):
            # window k needs windows k..k+2 final: it is decided when window k+2 arrives
            assert verdict.window_start + 3 * W == T0 + (i + 1) * W
            # its evidence ends there and may pool up to the gap's windows before it
            assert verdict.evidence[1] == verdict.window_start + 3 * W
            assert verdict.window_start - 2 * W <= verdict.evidence[0] <= verdict.window_start
            seen.append(verdict)
    # the first maturity span (2 windows) is warm-up and never a reference
    assert min(v.reference[0] for v in seen) == T0 + 2 * W
    assert {v.window_start for v in seen} == {T0 + k * W for k in range(2, 10)}


def test_running_updates_are_ignored() -> None:
    monitor = LiveMonitor(RULES)
    assert feed(monitor, [window(i, final=False) for i in range(30)]) == []


def test_a_drop_alerts_naming_the_version_with_its_evidence() -> None:
    steady = [window(i) for i in range(20)]
    dropped = [window(i, completed=35, thumbs_up=20, thumbs_down=40) for i in range(20, 26)]
    verdicts = feed(LiveMonitor(RULES), steady + dropped)
    found = alerts(verdicts)
    assert found, "a halved completion rate must alert"
    first = min(found, key=lambda a: a["window_start"])
    assert first["agent_version"] == "1.0" and "bot 1.0" in first["message"]
    evidence = first["evidence"]
    assert evidence["reference_trials"] >= RULES.min_reference_trials
    assert evidence["effect"] < -RULES.min_effect
    assert evidence["interval_low"] <= evidence["effect"] <= evidence["interval_high"] < 0
    assert evidence["p_value"] < evidence["alpha"]
    assert evidence["evidence_end"] > T0 + 20 * W  # its evidence reaches into the drop
    # within two windows of the first dropped window maturing
    assert first["window_start"] <= T0 + 22 * W
    # the published record round-trips through the alerts topic's schema
    serializer = serializer_for(ALERTS)
    assert serializer.decode(serializer.encode(first)) == first


def test_one_alert_per_version_and_signal_while_the_drop_lasts() -> None:
    records = [window(i) for i in range(20)] + [window(i, completed=30) for i in range(20, 30)]
    found = alerts(feed(LiveMonitor(RULES), records))
    completion = [a for a in found if a["metric"] == "live_completion_rate"]
    assert len(completion) == 1


def test_corrections_alert_when_they_rise() -> None:
    records = [window(i) for i in range(20)] + [window(i, corrections=40) for i in range(20, 26)]
    found = alerts(feed(LiveMonitor(RULES), records))
    assert [a["metric"] for a in found] == ["live_correction_share"]


def test_too_few_samples_gives_no_verdict() -> None:
    records = [window(i, sessions=5, completed=4, thumbs_up=2, thumbs_down=1) for i in range(20)]
    records += [
        window(i, sessions=5, completed=0, thumbs_up=0, thumbs_down=3) for i in range(20, 30)
    ]
    verdicts = feed(LiveMonitor(RULES), records)
    assert alerts(verdicts) == []
    sparse = [v for v in verdicts if v.signal in ("completion", "thumbs")]
    assert sparse and {v.reason for v in sparse} <= {
        "too few in the evidence",
        "too few in the reference",
    }


def test_traffic_stopping_is_not_a_drop() -> None:
    # turns stop; abandoned sessions still close: the outcome mix collapses, volume guard holds
    records = [window(i) for i in range(20)]
    records += [window(i, interactions=0, sessions=60, completed=0) for i in range(20, 30)]
    verdicts = feed(LiveMonitor(RULES), records)
    assert alerts(verdicts) == []
    assert any(v.reason == "traffic volume changed" for v in verdicts)


def test_other_versions_are_judged_on_their_own() -> None:
    records = []
    for i in range(26):
        records.append(window(i, version="1.0"))
        records.append(window(i, version="2.0", completed=30 if i >= 20 else 70))
    found = alerts(feed(LiveMonitor(RULES), records))
    assert found and {a["agent_version"] for a in found} == {"2.0"}


def test_windows_of_another_size_are_refused() -> None:
    monitor = LiveMonitor(RULES)
    monitor.add(window(0))
    odd = {**window(1), "window_end": T0 + W + 30_000}
    with pytest.raises(ValueError, match="one monitor follows one processor configuration"):
        monitor.add(odd)


def test_the_level_is_bonferroni_over_versions_windows_and_the_tests_of_a_window() -> None:
    monitor = LiveMonitor(RULES)
    verdicts = feed(
        monitor,
        [window(i, version=v, thumbs_up=0, thumbs_down=0) for i in range(25) for v in "12"],
    )
    windows_per_day = 86_400_000 / W
    # every signal matures over 3 windows: a doubled span (6) would overlap the 2-window gap
    assert {monitor.lookback(s) for s in SIGNALS} == {(0,)}
    assert monitor.alpha(4) == pytest.approx(0.01 / (2 * windows_per_day * 4))
    # no thumbs in the reference: its test is never reached and takes no share of the budget
    tested = [v for v in verdicts if not v.reason]
    assert tested and {v.signal for v in tested} == {s.name for s in SIGNALS} - {"thumbs"}
    # once every other signal's reference is full (ratings: 10 windows of 10), they share it
    late = [v for v in tested if v.window_start >= T0 + 15 * W]
    assert late and all(v.alpha == pytest.approx(monitor.alpha(len(SIGNALS) - 1)) for v in late)
    early = [v for v in tested if v.window_start == T0 + 5 * W]  # sessions and tool calls only
    assert early and all(v.alpha == pytest.approx(monitor.alpha(2)) for v in early)


def test_a_signal_that_matures_at_once_pools_the_windows_since_a_change() -> None:
    rules = RULES.model_copy(update={"tool_errors_maturity_s": 0.0, "reference_gap_s": 300})
    monitor = LiveMonitor(rules)
    tool_errors = next(s for s in SIGNALS if s.name == "tool_errors")
    feed(monitor, [window(0)])
    assert monitor.lookback(tool_errors) == (0, 1, 3)  # spans of 1, 2 and 4 windows within 5
    # 10% of tool calls fail, then 20%: one window of 200 calls is not sure of it (z 4.2 below
    # the level's 4.8), two pooled are (z 5.9)
    steady = [window(i, tool_errors=20) for i in range(1, 30)]
    worse = [window(i, tool_errors=40) for i in range(30, 34)]
    found = alerts(feed(monitor, steady + worse))
    assert [a["metric"] for a in found] == ["live_tool_error_rate"]
    evidence = found[0]["evidence"]
    assert found[0]["window_start"] == T0 + 31 * W
    assert evidence["evidence_start"] == T0 + 30 * W  # the window before it pooled


def test_trials_that_fail_together_widen_the_test() -> None:
    # Tool calls of one turn fail together: the reference's windows swing between 5 and 35
    # failed calls of 200 (10% on average, far more spread than independent calls give). The
    # same rise to 20% that alerts after a steady 10% is then within what the windows do.
    rules = RULES.model_copy(update={"tool_errors_maturity_s": 0.0, "reference_gap_s": 300})
    worse = [window(i, tool_errors=40) for i in range(30, 34)]
    steady = [window(i, tool_errors=20) for i in range(30)]
    found = alerts(feed(LiveMonitor(rules), steady + worse))
    assert [a["metric"] for a in found] == ["live_tool_error_rate"]
    assert found[0]["evidence"]["dispersion"] == 1.0
    swinging = [window(i, tool_errors=5 if i % 2 else 35) for i in range(30)]
    verdicts = feed(LiveMonitor(rules), swinging + worse)
    tested = [v for v in verdicts if v.signal == "tool_errors" and v.p_value is not None]
    assert any(v.window_start >= T0 + 30 * W for v in tested)  # the rise was judged
    assert alerts(verdicts) == []


def test_overdispersion_shrinks_the_z_statistic() -> None:
    assert overdispersed(float(norm.sf(6.0)), 4.0) == pytest.approx(float(norm.sf(3.0)))
    assert overdispersed(0.01, 1.0) == 0.01  # binomial spread: unchanged
    assert overdispersed(0.7, 9.0) == 0.7  # no evidence of a drop stays none


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    m=st.integers(1, 400),
    hits=st.floats(0, 1),
    ref=st.floats(0, 1),
    lower=st.booleans(),
)
def test_drop_test_is_a_one_sided_p_value(
    n: int, m: int, hits: float, ref: float, lower: bool
) -> None:
    h, r = round(hits * n), round(ref * m)
    p = drop_test(h, n, r, m, lower)
    assert 0.0 <= p <= 1.0
    worse = h / n < r / m if lower else h / n > r / m
    if not worse:
        assert p >= 0.5 - 1e-9  # no evidence of a drop when the rate did not get worse


@settings(max_examples=50, deadline=None)
@given(
    rate=st.floats(0.2, 0.9),
    sessions=st.lists(st.integers(80, 200), min_size=30, max_size=30),
)
def test_identical_rates_never_alert(rate: float, sessions: list[int]) -> None:
    records = [
        window(i, sessions=n, completed=round(rate * n), interactions=3 * n)
        for i, n in enumerate(sessions)
    ]
    assert alerts(feed(LiveMonitor(RULES), records)) == []


def test_a_falling_mean_rating_alerts() -> None:
    # ratings spread around 4 from window to window; then they fall to 2.5
    records = [window(i, mean_rating=4.0 + (0.3 if i % 2 else -0.3)) for i in range(20)]
    records += [window(i, mean_rating=2.5) for i in range(20, 26)]
    found = alerts(feed(LiveMonitor(RULES), records))
    assert [a["metric"] for a in found] == ["live_mean_rating"]
    assert found[0]["evidence"]["effect"] < -RULES.min_rating_drop
