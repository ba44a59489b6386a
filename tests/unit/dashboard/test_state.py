"""The dashboard's aggregation: duplicates, finality, the event-time hour, summaries."""

import json

import pytest

from dashboard.state import RANGES, DashboardState, supersedes
from schemas.serializer import serializer_for
from schemas.topics import ALERTS, DEADLETTER, METRICS
from tests.unit.dashboard.records import (
    MINUTE_MS,
    START_MS,
    alert_record,
    dead_letter_record,
    metric_record,
)


def _only_agent(state: DashboardState) -> dict:
    agents = state.snapshot()["agents"]
    assert len(agents) == 1
    return agents[0]


def test_test_records_honour_their_contracts() -> None:
    for topic, record in (
        (METRICS, metric_record()),
        (DEADLETTER, dead_letter_record()),
        (ALERTS, alert_record()),
    ):
        serializer = serializer_for(topic)
        assert serializer.decode(serializer.encode(record)) == record


def test_summary_derives_rates_from_summed_counts() -> None:
    state = DashboardState()
    state.add_metric(
        metric_record(
            0,
            interactions=10,
            sessions=4,
            completed=3,
            abandoned=1,
            thumbs_up=3,
            thumbs_down=1,
            ratings=2,
            mean_rating=4.0,
            corrections=1,
            latency_p95_ms=1000.0,
        )
    )
    state.add_metric(
        metric_record(
            1,
            interactions=30,
            sessions=6,
            completed=3,
            abandoned=3,
            thumbs_up=1,
            thumbs_down=3,
            ratings=6,
            mean_rating=2.0,
            corrections=5,
            latency_p95_ms=2000.0,
        )
    )
    summary = _only_agent(state)["summary"]

    assert summary["interactions"] == 40
    assert summary["sessions"] == 10
    assert summary["completion_rate"] == pytest.approx(6 / 10)
    assert summary["abandonment_rate"] == pytest.approx(4 / 10)
    assert summary["thumbs_up_rate"] == pytest.approx(4 / 8)
    assert summary["mean_rating"] == pytest.approx((2 * 4.0 + 6 * 2.0) / 8)
    assert summary["correction_rate"] == pytest.approx(6 / 40)
    assert summary["latency_p95_ms"] == pytest.approx((10 * 1000 + 30 * 2000) / 40)
    assert summary["latency_p95_max_ms"] == 2000.0
    assert summary["windows"] == 2


def test_rates_without_denominators_are_null() -> None:
    state = DashboardState()
    state.add_metric(
        metric_record(
            interactions=0,
            sessions=0,
            completed=0,
            abandoned=0,
            thumbs_up=0,
            thumbs_down=0,
            ratings=0,
            corrections=0,
            latency_p95_ms=None,
        )
    )
    summary = _only_agent(state)["summary"]
    for field in (
        "completion_rate",
        "thumbs_up_rate",
        "mean_rating",
        "correction_rate",
        "latency_p95_ms",
        "latency_p95_max_ms",
    ):
        assert summary[field] is None, field


def test_newer_update_replaces_older_and_final_wins() -> None:
    state = DashboardState()
    assert state.add_metric(metric_record(interactions=5, is_final=False, update_seq=1))
    assert state.add_metric(metric_record(interactions=8, is_final=False, update_seq=2))
    # A processor restart republishes an older running update: ignored.
    assert not state.add_metric(metric_record(interactions=6, is_final=False, update_seq=1))
    assert _only_agent(state)["summary"]["interactions"] == 8

    assert state.add_metric(metric_record(interactions=9, is_final=True, update_seq=3))
    # Running updates after the final one (replayed from before a crash) never undo it.
    assert not state.add_metric(metric_record(interactions=7, is_final=False, update_seq=9))
    agent = _only_agent(state)
    assert agent["summary"]["interactions"] == 9
    assert agent["summary"]["final_windows"] == 1
    assert agent["latest_window"]["is_final"] is True


def test_duplicate_final_records_count_once() -> None:
    state = DashboardState()
    for _ in range(3):
        state.add_metric(metric_record(interactions=11, update_seq=4))
    assert _only_agent(state)["summary"]["interactions"] == 11


def test_supersedes_orders_by_finality_then_sequence() -> None:
    running_5 = {"is_final": False, "update_seq": 5}
    running_6 = {"is_final": False, "update_seq": 6}
    final_2 = {"is_final": True, "update_seq": 2}
    assert supersedes(running_6, running_5)
    assert not supersedes(running_5, running_6)
    assert supersedes(final_2, running_6)
    assert not supersedes(running_6, final_2)


def test_only_the_last_hour_of_event_time_is_kept() -> None:
    state = DashboardState(lookback_s=3600)
    for minute in range(90):
        state.add_metric(metric_record(minute, interactions=1))
    snapshot = state.snapshot()
    agent = snapshot["agents"][0]
    # The newest window ends at minute 90: windows ending after minute 30 remain.
    assert agent["summary"]["windows"] == 60
    assert agent["series"][0]["window_start"] == START_MS + 30 * MINUTE_MS
    assert snapshot["event_time"]["horizon_end_ms"] == START_MS + 90 * MINUTE_MS
    assert snapshot["event_time"]["horizon_start_ms"] == START_MS + 30 * MINUTE_MS
    # A record older than the horizon (a late replay) changes nothing.
    version = state.version
    assert not state.add_metric(metric_record(5, interactions=100))
    assert state.version == version


def test_series_are_per_agent_version_in_window_order() -> None:
    state = DashboardState()
    state.add_metric(metric_record(2, "support-bot", "1.5.0"))
    state.add_metric(metric_record(1, "support-bot", "1.5.0"))
    state.add_metric(metric_record(1, "code-helper", "3.2.0"))
    state.add_metric(metric_record(0, "support-bot", "1.4.0"))
    agents = state.snapshot()["agents"]
    assert [(a["agent_id"], a["agent_version"]) for a in agents] == [
        ("code-helper", "3.2.0"),
        ("support-bot", "1.4.0"),
        ("support-bot", "1.5.0"),
    ]
    starts = [p["window_start"] for p in agents[2]["series"]]
    assert starts == [START_MS + MINUTE_MS, START_MS + 2 * MINUTE_MS]


def test_dead_letters_are_counted_by_reason_and_topic() -> None:
    state = DashboardState()
    for reason in ("undecodable", "too_late", "undecodable"):
        state.add_dead_letter(dead_letter_record(reason))
    dead = state.snapshot()["dead_letters"]
    assert dead == {
        "total": 3,
        "by_reason": {"undecodable": 2, "too_late": 1},
        "by_source_topic": {"agent.interactions.v1": 3},
    }


def test_alerts_dedupe_by_id_newest_first_and_bounded() -> None:
    state = DashboardState(max_alerts=3)
    for minute in range(5):
        state.add_alert(alert_record(minute, alert_id=f"a{minute}"))
    state.add_alert(alert_record(4, alert_id="a4"))  # the same alert again
    alerts = state.snapshot()["alerts"]
    assert [a["alert_id"] for a in alerts] == ["a4", "a3", "a2"]


def test_version_moves_on_every_visible_change_and_snapshot_is_json() -> None:
    state = DashboardState()
    versions = [state.version]
    state.add_metric(metric_record())
    versions.append(state.version)
    state.add_dead_letter(dead_letter_record())
    versions.append(state.version)
    state.add_alert(alert_record())
    versions.append(state.version)
    assert versions == sorted(set(versions))
    decoded = json.loads(json.dumps(state.snapshot(), allow_nan=False))
    assert decoded["version"] == state.version


def test_each_range_ends_at_the_newest_turns_not_at_late_feedback() -> None:
    """Late feedback (windows without turns, hours after them) never empties the view."""
    state = DashboardState()
    for minute in range(90):
        state.add_metric(metric_record(minute, interactions=2))
    for minute in (200, 300):  # feedback only, hours of event time after the last turn
        state.add_metric(metric_record(minute, interactions=0, sessions=0, completed=0))
    shown = {name: state.snapshot(name) for name in RANGES}

    for name, minutes in (("15m", 15), ("1h", 60), ("6h", 90), ("24h", 90)):
        view = shown[name]
        assert view["event_time"]["follows"] == "turns"
        assert view["event_time"]["horizon_end_ms"] == START_MS + 90 * MINUTE_MS
        (agent,) = view["agents"]
        assert agent["summary"]["windows"] == minutes
        assert agent["summary"]["interactions"] == 2 * minutes
    everything = shown["all"]
    assert everything["event_time"]["horizon_end_ms"] == START_MS + 301 * MINUTE_MS
    assert everything["event_time"]["horizon_start_ms"] == START_MS
    assert everything["agents"][0]["summary"]["windows"] == 92


def test_live_traffic_ends_the_view_at_the_wall_clock() -> None:
    state = DashboardState()
    for minute in range(10):
        state.add_metric(metric_record(minute, interactions=3))
    newest_turns = START_MS + 10 * MINUTE_MS
    now = newest_turns + 30_000
    view = state.snapshot("15m", now_ms=now)["event_time"]
    assert view["follows"] == "live"
    assert (view["horizon_start_ms"], view["horizon_end_ms"]) == (now - 15 * MINUTE_MS, now)
    # Long after the traffic stopped the view goes back to the newest turns.
    later = state.snapshot("15m", now_ms=newest_turns + 3_600_000)["event_time"]
    assert later["follows"] == "turns"
    assert later["horizon_end_ms"] == newest_turns


def test_a_view_without_turns_ends_at_the_newest_window() -> None:
    state = DashboardState()
    assert state.snapshot("1h")["event_time"]["horizon_end_ms"] is None
    state.add_metric(metric_record(5, interactions=0))
    view = state.snapshot("1h")
    assert view["event_time"]["follows"] == "windows"
    assert view["agents"][0]["summary"]["interactions"] == 0


def test_an_unknown_range_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown range"):
        DashboardState().snapshot("2h")
