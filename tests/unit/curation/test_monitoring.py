"""The feedback-quality checks on hand-made lakes: each alert fires when, and only when, due."""

import polars as pl
import pytest

from curation.features import add_turn_features
from curation.monitoring import MonitorRules
from curation.monitoring.monitor import check_quality
from curation.monitoring.quality import explode_feedback, population_stability_index
from curation.source import read_enriched
from schemas.serializer import serializer_for
from schemas.topics import ALERTS
from tests.unit.curation.enriched_factory import BASE_MS, feedback, make_turn, write_enriched

HOUR = 3_600_000
RULES = MonitorRules(
    window_s=3600,
    reference_s=3600,
    min_turns_for_coverage=20,
    min_turns_for_agreement=20,
    min_feedback_for_drift=20,
    min_feedback_for_regression=20,
    min_rater_feedback_for_spam=20,
    max_rater_feedback=50,
)


def _turns(lake: str, rows: list[dict]) -> pl.DataFrame:
    write_enriched(lake, rows)
    return add_turn_features(read_enriched(lake).turns)


def _sessions(
    prefix: str,
    count: int,
    *,
    version: str = "1.0.0",
    start: int = BASE_MS + HOUR,
    up: float = 0.8,
    outcome: str = "completed",
    feedback_every: int = 1,
    rater: str | None = None,
) -> list[dict]:
    rows = []
    for i in range(count):
        time_ms = start + i * 1000
        given = []
        if i % feedback_every == 0:
            given = [
                feedback(
                    thumbs_up=(i % 100) < up * 100,
                    event_time=time_ms + 500,
                    seed=f"{prefix}-{i}",
                    rater_id=rater or f"user-{prefix}-{i}",
                )
            ]
        rows.append(
            make_turn(
                f"{prefix}-{i}",
                agent_version=version,
                event_time=time_ms,
                feedback=given,
                session_outcome=outcome,
            )
        )
    return rows


def _kinds(report) -> set[tuple[str, str | None]]:
    return {(alert["kind"], alert["agent_version"]) for alert in report.alerts}


def test_psi_is_zero_for_equal_distributions_and_grows_with_a_shift() -> None:
    same = {"thumbs_up": 80, "thumbs_down": 20}
    assert population_stability_index(same, same) == pytest.approx(0.0)
    small = population_stability_index(same, {"thumbs_up": 75, "thumbs_down": 25})
    large = population_stability_index(same, {"thumbs_up": 30, "thumbs_down": 70})
    assert 0 < small < 0.1 < 0.2 < large


def test_healthy_traffic_raises_nothing(lake: str) -> None:
    rows = _sessions("ref", 100, start=BASE_MS) + _sessions("cur", 100)
    report = check_quality(_turns(lake, rows), RULES, until_ms=BASE_MS + 2 * HOUR)
    assert report.alerts == []
    assert [s["agent_version"] for s in report.stats] == ["1.0.0"]


def test_a_shifted_version_raises_drift_and_regression_naming_it(lake: str) -> None:
    rows = (
        _sessions("ref-a", 100, start=BASE_MS, version="1.0.0")
        + _sessions("ref-b", 100, start=BASE_MS, version="2.0.0")
        + _sessions("cur-a", 100, version="1.0.0")
        + _sessions("cur-b", 100, version="2.0.0", up=0.2)
    )
    report = check_quality(_turns(lake, rows), RULES, until_ms=BASE_MS + 2 * HOUR)
    kinds = _kinds(report)
    assert ("rating_drift", "2.0.0") in kinds
    assert ("regression", "2.0.0") in kinds
    assert not {kind for kind in kinds if kind[1] == "1.0.0"}
    metrics = {a["metric"] for a in report.alerts if a["kind"] == "regression"}
    assert metrics == {"positive_rate_vs_reference", "positive_rate_vs_siblings"}


def test_low_coverage_and_disagreement(lake: str) -> None:
    sparse = _sessions("sparse", 100, version="sparse", feedback_every=50)
    # Praise on sessions that all failed: explicit and implicit disagree.
    odd = _sessions("odd", 100, version="odd", up=1.0, outcome="failed")
    report = check_quality(_turns(lake, sparse + odd), RULES, until_ms=BASE_MS + 2 * HOUR)
    assert ("low_coverage", "sparse") in _kinds(report)
    assert ("signal_disagreement", "odd") in _kinds(report)


def test_rater_spam_by_volume_and_by_repetition(lake: str) -> None:
    rows = _sessions("cur", 100, rater="rater-loud")
    target = make_turn("victim", event_time=BASE_MS + HOUR + 5)
    target["feedback"] = [
        feedback(
            thumbs_up=False,
            rater_id="rater-echo",
            seed=f"echo-{i}",
            event_time=BASE_MS + HOUR + 10 + i,
        )
        for i in range(30)
    ]
    report = check_quality(_turns(lake, [*rows, target]), RULES, until_ms=BASE_MS + 2 * HOUR)
    spam = {
        (a["metric"], a["message"].split(":")[0])
        for a in report.alerts
        if a["kind"] == "rater_spam"
    }
    assert spam == {
        ("rater_feedback_count", "rater rater-loud"),
        ("rater_repeated_share", "rater rater-echo"),
    }


def test_alerts_are_deterministic_and_fit_the_contract(lake: str) -> None:
    rows = _sessions("ref", 100, start=BASE_MS) + _sessions("cur", 100, up=0.1)
    turns = _turns(lake, rows)
    first = check_quality(turns, RULES, until_ms=BASE_MS + 2 * HOUR).alerts
    again = check_quality(turns, RULES, until_ms=BASE_MS + 2 * HOUR).alerts
    assert first and first == again
    serializer = serializer_for(ALERTS)
    for alert in first:
        assert serializer.decode(serializer.encode(alert)) == alert


def test_session_level_feedback_is_counted_once(lake: str) -> None:
    shared = feedback(thumbs_up=True, session_level=True, seed="shared")
    rows = [make_turn("s", i, session_turns=3, feedback=[shared]) for i in range(3)]
    assert explode_feedback(_turns(lake, rows)).height == 1


def test_monitor_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from curation.monitoring import MonitorSettings

    monkeypatch.setenv("FEEDBACK_MONITOR_MAX_PSI", "0.3")
    monkeypatch.setenv("FEEDBACK_MONITOR_ALERTS_TOPIC", "agent.alerts.v1.test")
    settings = MonitorSettings()
    assert settings.alerts_topic == "agent.alerts.v1.test"
    assert settings.rules().max_psi == 0.3
    assert settings.rules(window_s=60, reference_s=None).window_s == 60


def test_the_default_window_ends_a_maturity_delay_before_the_newest_turn(lake: str) -> None:
    # the window follows the turns, not the newest feedback (it ended at the newest feedback
    # once, and after a catch-up held only turns whose feedback had not arrived)
    rows = _sessions("cur", 20, start=BASE_MS + HOUR)
    turns = _turns(lake, rows)
    newest = turns.select(pl.col("event_time").dt.epoch("ms").max()).item()
    report = check_quality(turns, RULES)
    assert report.window_end == newest + 1 - RULES.maturity_s * 1000
    immediate = check_quality(turns, RULES.model_copy(update={"maturity_s": 0}))
    assert immediate.window_end == newest + 1


def test_monitor_run_without_publishing_says_so(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from feedbackctl.monitor_commands import monitor_app

    write_enriched(
        lake,
        _sessions("ref-b", 100, start=BASE_MS, version="2.0.0")
        + _sessions("cur-b", 100, version="2.0.0", up=0.2),
    )
    for name in ("MIN_FEEDBACK_FOR_DRIFT", "MIN_FEEDBACK_FOR_REGRESSION"):
        monkeypatch.setenv(f"FEEDBACK_MONITOR_{name}", "20")
    arguments = ["run", "--lake-uri", lake, "--until", str(BASE_MS + 2 * HOUR), "--no-publish"]
    arguments += ["--window", "3600", "--reference", "3600"]
    result = CliRunner().invoke(monitor_app, arguments, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "not published (--no-publish)" in result.output
    assert "published" not in result.output.replace("not published", "")
