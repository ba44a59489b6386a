"""Release impacts in the dashboard state: the latest comparison per agent, whatever the order
records are read in, shown in every range's snapshot with its per-metric differences."""

from hypothesis import given
from hypothesis import strategies as st

from dashboard.state import RANGES, DashboardState
from schemas.serializer import serializer_for
from schemas.topics import RELEASE_IMPACT
from tests.unit.dashboard.records import MINUTE_MS, START_MS, metric_record, release_impact_record


def test_the_latest_verdict_per_agent_is_shown_with_its_metrics() -> None:
    state = DashboardState()
    unknown = release_impact_record("not_yet_known", created_at=START_MS, difference=0.02)
    better = release_impact_record("better", created_at=START_MS + MINUTE_MS)
    other = release_impact_record("worse", agent_id="billing-bot", difference=-0.08)
    assert state.add_release_impact(unknown)
    assert state.add_release_impact(better)
    assert state.add_release_impact(other)
    snapshot = state.snapshot("1h")
    shown = snapshot["release_impacts"]
    assert [(r["agent_id"], r["verdict"]) for r in shown] == [
        ("billing-bot", "worse"),
        ("support-bot", "better"),
    ]
    [metric] = shown[1]["metrics"]
    assert (shown[1]["baseline"], shown[1]["candidate"]) == ("1.4.0", "1.5.0")
    assert metric["metric"] == "completion_rate"
    assert metric["ci_low"] < metric["difference"] == 0.1 < metric["ci_high"]


def test_an_older_record_read_later_does_not_replace_the_newer_one() -> None:
    state = DashboardState()
    newer = release_impact_record("better", created_at=START_MS + 5 * MINUTE_MS)
    assert state.add_release_impact(newer)
    version = state.version
    assert not state.add_release_impact(release_impact_record("not_yet_known", created_at=START_MS))
    assert state.version == version
    assert state.snapshot()["release_impacts"] == [newer]


def test_impacts_show_in_every_range_and_without_metric_windows() -> None:
    state = DashboardState(lookback_s=600)
    impact = release_impact_record("better", created_at=START_MS)
    state.add_release_impact(impact)
    assert all(state.snapshot(r)["release_impacts"] == [impact] for r in RANGES)
    # Metric windows far past the comparison evict old windows, not the verdict.
    state.add_metric(metric_record(0, interactions=3))
    state.add_metric(metric_record(600, interactions=3))
    assert state.snapshot("all")["release_impacts"] == [impact]


def test_the_record_is_what_the_topic_carries() -> None:
    serializer = serializer_for(RELEASE_IMPACT)
    record = release_impact_record("better")
    decoded = serializer.decode(serializer.encode(record))
    state = DashboardState()
    state.add_release_impact(decoded)
    assert state.snapshot()["release_impacts"][0]["metrics"][0]["difference"] == 0.1


@given(st.permutations(range(6)))
def test_any_read_order_keeps_the_newest(order: list[int]) -> None:
    records = [
        release_impact_record("not_yet_known", created_at=START_MS + i * MINUTE_MS)
        for i in range(6)
    ]
    state = DashboardState()
    for i in order:
        state.add_release_impact(records[i])
    assert state.snapshot()["release_impacts"] == [records[5]]
