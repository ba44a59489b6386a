"""Quality changes of generated traffic: parsing, when they apply, and unchanged default bytes."""

import dataclasses

import pytest

from producers.drift import QualityChange, parse_quality_change, quality_at
from producers.traffic import DEFAULT_AGENTS, TrafficConfig, generate_traffic


def _bytes(config: TrafficConfig) -> list[bytes]:
    return [event.value() for event in generate_traffic(config).events()]


def test_no_change_gives_the_same_bytes() -> None:
    config = TrafficConfig(sessions=60, seed=5)
    assert _bytes(config) == _bytes(dataclasses.replace(config, quality_changes=()))
    # a change of another agent leaves this traffic's draws alone
    other = QualityChange("nobody", "0", 0.1, start_share=0.0)
    assert _bytes(config) == _bytes(dataclasses.replace(config, quality_changes=(other,)))


def test_a_drop_lowers_the_true_quality_after_its_start_only() -> None:
    change = QualityChange("support-bot", "1.4.0", 0.3, start_share=0.5)
    config = TrafficConfig(
        sessions=2000, seed=9, sessions_per_second=1.0, quality_changes=(change,)
    )
    traffic = generate_traffic(config)
    list(traffic.events())
    start = change.start_time(config)
    before, after = [], []
    for session in traffic.truth.sessions.values():
        if session.agent != ("support-bot", "1.4.0"):
            continue
        for turn in session.turns:
            if session.last_activity_ms < start:
                before.append(turn.good)
            elif session.last_activity_ms >= start + 600_000:  # sessions last under 450 s
                after.append(turn.good)
    assert sum(before) / len(before) > 0.7
    assert sum(after) / len(after) < 0.45


def test_quality_at_takes_the_latest_started_change() -> None:
    agent = DEFAULT_AGENTS[0]
    changes = (
        QualityChange(agent.agent_id, agent.agent_version, 0.5, start_ms=1000),
        QualityChange(agent.agent_id, agent.agent_version, 0.2, start_ms=2000),
    )
    config = TrafficConfig(quality_changes=changes)
    assert quality_at(config, agent, 999) == agent.quality
    assert quality_at(config, agent, 1500) == 0.5
    assert quality_at(config, agent, 2000) == 0.2


def test_parse() -> None:
    assert parse_quality_change("support-bot:1.4.0@50%=0.5") == QualityChange(
        "support-bot", "1.4.0", 0.5, start_share=0.5
    )
    assert parse_quality_change("a:1@1767225600000=0.25").start_ms == 1_767_225_600_000
    for bad in ("support-bot@50%=0.5", "a:1@50%=1.5", "a:1@150%=0.5", "a:1=0.5"):
        with pytest.raises(ValueError):
            parse_quality_change(bad)
