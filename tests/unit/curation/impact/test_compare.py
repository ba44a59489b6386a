"""compare on generated traffic: a truly better candidate, too little traffic, equal versions."""

import dataclasses
import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.impact import compare_versions, observations_from_turns
from curation.impact.compare import estimate_metric
from curation.impact.metrics import metric_named
from tests.unit.curation.generated_lake import enriched_rows
from tests.unit.curation.impact.traffic_sessions import (
    release_config,
    sessions_from_traffic,
    true_completion_difference,
)

# 8,000 sessions: about three times the sessions per version that a 5-point completion margin
# needs at 80% power, so that equal versions land inside the margin nearly always.
FULL = 8_000


def compare(config):  # type: ignore[no-untyped-def]
    sessions, _ = sessions_from_traffic(config)
    return compare_versions(sessions, "support-bot", "1.4.0", "1.5.0")


@pytest.fixture(scope="module")
def better_config():  # type: ignore[no-untyped-def]
    return release_config(0.6, 0.8, FULL, seed=7)


def test_a_candidate_truly_ten_points_better_is_better_with_the_true_difference_inside(
    better_config,  # type: ignore[no-untyped-def]
) -> None:
    truth = true_completion_difference(better_config, sessions=40_000)
    assert 0.08 <= truth <= 0.12  # the premise: ten points better in the generator's truth
    result = compare(better_config)
    completion = result.metric("completion_rate")
    assert result.verdict == "better"
    assert completion.ci_low <= truth <= completion.ci_high
    assert completion.ci_low > 0
    assert completion.baseline_sessions >= completion.sessions_needed


def test_a_tenth_of_the_traffic_is_not_yet_known_and_says_how_many_sessions_it_needs(
    better_config,  # type: ignore[no-untyped-def]
) -> None:
    result = compare(dataclasses.replace(better_config, sessions=FULL // 10))
    completion = result.metric("completion_rate")
    assert result.verdict == "not yet known"
    assert completion.baseline_sessions < completion.sessions_needed
    assert result.sessions_needed > 2 * (FULL // 10) // 2  # more than it has


def test_two_equally_good_versions_show_no_difference_in_at_least_95_percent_of_40_runs() -> None:
    verdicts = [compare(release_config(0.7, 0.7, FULL, seed=seed)).verdict for seed in range(40)]
    assert verdicts.count("no difference") >= 38, verdicts


def test_sessions_from_the_lake_shape_match_the_direct_observations() -> None:
    """The lake path (enriched turns, revisions and duplicate rows) gives the same sessions."""
    config = release_config(0.6, 0.8, 600, seed=3)
    rows, _ = enriched_rows(config)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    from_lake = {s.session_id: s for s in observations_from_turns(frame)}
    direct = {s.session_id: s for s in sessions_from_traffic(config)[0]}
    assert from_lake.keys() == direct.keys()
    for session_id, session in direct.items():
        found = from_lake[session_id]
        assert (found.outcome, found.turn_latencies_ms, found.turn_corrected) == (
            session.outcome,
            session.turn_latencies_ms,
            session.turn_corrected,
        )
        assert sorted(found.thumbs) == sorted(session.thumbs)
        assert sorted(found.ratings) == sorted(session.ratings)
        assert math.isclose(found.cost_usd, session.cost_usd)


def test_the_session_is_the_unit_repeating_votes_inside_sessions_adds_no_evidence() -> None:
    sessions, _ = sessions_from_traffic(release_config(0.7, 0.7, 3_000, seed=11))
    base = [s for s in sessions if s.agent_version == "1.4.0"]
    cand = [s for s in sessions if s.agent_version == "1.5.0"]
    spec = metric_named("thumbs_up_rate")
    once = estimate_metric(spec, base, cand)

    def echo(group):  # type: ignore[no-untyped-def]
        return [dataclasses.replace(s, thumbs=s.thumbs * 5) for s in group]

    five_times = estimate_metric(spec, echo(base), echo(cand))
    width_once = once.ci_high - once.ci_low
    width_echo = five_times.ci_high - five_times.ci_low
    # Independent votes would shrink the interval by sqrt(5); clustered by session, it stays.
    assert math.isclose(width_echo, width_once, rel_tol=0.02)
    assert five_times.sessions_needed == pytest.approx(once.sessions_needed, rel=0.05)


def test_a_version_without_traffic_is_not_yet_known() -> None:
    sessions, _ = sessions_from_traffic(release_config(0.7, 0.7, 200, seed=5))
    result = compare_versions(sessions, "support-bot", "1.4.0", "9.9.9")
    assert result.verdict == "not yet known"
    assert all(m.verdict == "not yet known" for m in result.metrics)


def test_only_the_time_span_both_versions_served_is_compared() -> None:
    sessions, _ = sessions_from_traffic(release_config(0.7, 0.7, 400, seed=5))
    base = [s for s in sessions if s.agent_version == "1.4.0"]
    cutoff = sorted(s.started_ms for s in sessions)[200]
    late_candidate = [s for s in sessions if s.agent_version == "1.4.0" or s.started_ms > cutoff]
    result = compare_versions(late_candidate, "support-bot", "1.4.0", "1.5.0")
    assert result.window_start_ms is not None and result.window_start_ms > cutoff
    assert result.metric("completion_rate").baseline_sessions < len(base)


@given(
    low=st.floats(-1, 1),
    width=st.floats(0, 1),
    margin=st.floats(0.01, 0.5),
    higher=st.booleans(),
)
def test_the_verdict_reads_the_interval_against_zero_and_the_margin(
    low: float, width: float, margin: float, higher: bool
) -> None:
    from curation.impact.compare import _verdict

    spec = dataclasses.replace(metric_named("completion_rate"), higher_is_better=higher)
    high = low + width
    assert _verdict(spec, low, high, margin, reached=False) == "not yet known"
    verdict = _verdict(spec, low, high, margin, reached=True)
    if -margin < low and high < margin:
        assert verdict == "no difference"
    elif low > 0:
        assert verdict == ("better" if higher else "worse")
    elif high < 0:
        assert verdict == ("worse" if higher else "better")
    else:
        assert low <= 0 <= high and verdict == "no difference"
