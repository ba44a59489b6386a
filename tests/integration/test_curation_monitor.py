"""Drift test: shift one agent version's true quality in the generator; the monitor, reading the
lake, raises an alert naming that version, publishes it to Kafka, and the CLI shows it.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from curation.monitoring import AlertPublisher, MonitorRules, read_alerts, run_monitor
from feedbackctl.main import app
from producers.traffic import DEFAULT_AGENTS, TrafficConfig
from schemas.topics import ALERTS, TopicSpec
from tests.unit.curation.generated_lake import build_generated_lake

START_MS = 1_767_225_600_000
DAY_MS = 86_400_000
SHIFTED = ("code-helper", "3.2.0")


def _shifted_agents(quality: float) -> tuple:
    return tuple(
        dataclasses.replace(agent, quality=quality)
        if (agent.agent_id, agent.agent_version) == SHIFTED
        else agent
        for agent in DEFAULT_AGENTS
    )


def test_quality_shift_of_one_version_raises_an_alert_naming_it(
    tmp_path: Path, bootstrap_servers: str, unique_topics: Callable[..., TopicSpec]
) -> None:
    lake = str(tmp_path / "lake")
    # Yesterday: every version as usual. Today: the same traffic, but code-helper 3.2.0's true
    # quality fell from 0.85 to 0.45.
    build_generated_lake(lake, TrafficConfig(sessions=3000, seed=5, start_time_ms=START_MS))
    today = START_MS + DAY_MS
    build_generated_lake(
        lake,
        TrafficConfig(sessions=3000, seed=6, start_time_ms=today, agents=_shifted_agents(0.45)),
    )
    rules = MonitorRules(window_s=12 * 3600, reference_s=24 * 3600)
    report = run_monitor(lake, rules, until_ms=today + 6 * 3_600_000)
    assert report.delta_version == 1
    drift = [a for a in report.alerts if a["kind"] == "rating_drift"]
    assert {(a["agent_id"], a["agent_version"]) for a in drift} == {SHIFTED}
    named = {
        (a["agent_id"], a["agent_version"]) for a in report.alerts if a["kind"] != "rater_spam"
    }
    assert SHIFTED in named
    assert ("support-bot", "1.4.0") not in named  # the unchanged, best version stays quiet

    topic = unique_topics(ALERTS)
    assert AlertPublisher(bootstrap_servers, topic).publish(report.alerts) == len(report.alerts)
    published = read_alerts(bootstrap_servers, topic, timeout_s=20)
    assert sorted(a["alert_id"] for a in published) == sorted(a["alert_id"] for a in report.alerts)

    shown = CliRunner().invoke(
        app,
        ["monitor", "alerts", "--bootstrap-servers", bootstrap_servers, "--topic", topic.name],
        env={"COLUMNS": "250"},
    )
    assert shown.exit_code == 0, shown.output
    assert "rating_drift" in shown.output and "code-helper" in shown.output
    assert "3.2.0" in shown.output


def test_monitor_run_command_publishes(
    tmp_path: Path, bootstrap_servers: str, unique_topics: Callable[..., TopicSpec]
) -> None:
    lake = str(tmp_path / "lake")
    build_generated_lake(lake, TrafficConfig(sessions=2000, seed=9, start_time_ms=START_MS))
    topic = unique_topics(ALERTS)
    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "run",
            "--lake-uri",
            lake,
            "--bootstrap-servers",
            bootstrap_servers,
            "--topic",
            topic.name,
            "--window",
            "86400",
        ],
        # 100 s of traffic: the window may end at its newest turn (default: an hour before it)
        env={"COLUMNS": "250", "FEEDBACK_MONITOR_MATURITY_S": "0"},
    )
    assert result.exit_code == 0, result.output
    # The default traffic has a regressed version: support-bot 1.5.0 against 1.4.0.
    assert "support-bot 1.5.0" in result.output
    alerts = read_alerts(bootstrap_servers, topic, timeout_s=20)
    assert ("regression", "1.5.0") in {(a["kind"], a["agent_version"]) for a in alerts}
