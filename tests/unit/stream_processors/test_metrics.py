"""Window partials, their merge, the published record and the finalizer's rules."""

from stream_processors.finalizer import FINAL_SEQ, IDLE, MetricsFinalizer
from stream_processors.metrics import WindowPartial, window_start_of

W = 60_000


def _partial(latencies: list[int], outcome: str | None = None, prefix: str = "e") -> WindowPartial:
    partial = WindowPartial(64)
    for i, latency in enumerate(latencies):
        partial.add_interaction(
            {
                "event_id": f"{prefix}{i}",
                "latency_ms": latency,
                "cost_usd": 0.1,
                "tools_used": [{"status": "ok"}, {"status": "timeout"}],
            }
        )
    if outcome:
        partial.add_session(outcome)
    return partial


def test_record_rates_and_percentiles() -> None:
    partial = _partial([100, 200, 300, 400], "completed")
    partial.add_session("abandoned")
    partial.add_feedback({"kind": "thumbs", "thumbs_up": True})
    partial.add_feedback({"kind": "thumbs", "thumbs_up": False})
    partial.add_feedback({"kind": "thumbs", "thumbs_up": True})
    partial.add_feedback({"kind": "rating", "rating": 4})
    partial.add_feedback({"kind": "correction", "correction": "x"})
    partial.add_covered_interaction()
    record = partial.to_record("bot", "1", 0, W, is_final=True, update_seq=FINAL_SEQ)
    assert record["interactions"] == 4 and record["sessions"] == 2
    assert record["completion_rate"] == 0.5 and record["abandonment_rate"] == 0.5
    assert record["thumbs_up_rate"] == 2 / 3 and record["mean_rating"] == 4.0
    assert record["correction_rate"] == 0.25 and record["feedback_coverage"] == 0.25
    assert record["latency_p50_ms"] == 200.0 and record["latency_p95_ms"] == 400.0
    assert record["tool_calls"] == 8 and record["tool_error_rate"] == 0.5
    assert record["cost_usd"] == 0.4  # exact: kept in nano-dollars


def test_empty_rates_are_zero_or_null() -> None:
    record = WindowPartial(8).to_record("bot", "1", 0, W, is_final=False, update_seq=1)
    assert record["completion_rate"] == 0.0
    assert record["thumbs_up_rate"] is None and record["latency_p50_ms"] is None


def test_merge_equals_one_partial_of_everything() -> None:
    left, right = _partial([1, 2, 3], "completed", "a"), _partial([4, 5], "failed", "b")
    whole = _partial([1, 2, 3], "completed", "a").merge(_partial([4, 5], "failed", "b"))
    assert left.merge(right).to_state() == right.merge(left).to_state() == whole.to_state()
    state = whole.to_state()
    assert WindowPartial.from_state(state, 64).to_state() == state


def test_window_start() -> None:
    assert window_start_of(125_000, W) == 120_000


def test_final_only_when_every_partition_passed_the_window() -> None:
    finalizer = MetricsFinalizer(W, update_interval_ms=1000, sample_size=64)
    partials = {("bot", "1", 0): {0: _partial([1], "completed"), 1: _partial([2], prefix="x")}}
    records = finalizer.step({0: 70_000, 1: 50_000}, partials, now=0)
    assert [r["is_final"] for r in records] == [False]
    assert records[0]["update_seq"] == 1 and records[0]["interactions"] == 2
    assert finalizer.step({0: 70_000, 1: 55_000}, partials, now=500) == []  # throttled
    assert finalizer.step({0: 70_000, 1: 55_000}, partials, now=1500) == []  # unchanged
    [final] = finalizer.step({0: 70_000, 1: 61_000, 2: IDLE}, partials, now=1600)
    assert final["is_final"] and final["update_seq"] == FINAL_SEQ
    assert final["interactions"] == 2 and final["sessions_completed"] == 1
    assert finalizer.step({0: 90_000, 1: 90_000}, partials, now=5000) == []  # once only


def test_unknown_partition_blocks_finals() -> None:
    finalizer = MetricsFinalizer(W, update_interval_ms=1000, sample_size=64)
    partials = {("bot", "1", 0): {0: _partial([1])}}
    records = finalizer.step({0: 10**9, 1: None}, partials, now=0)
    assert [r["is_final"] for r in records] == [False]


def test_finalizer_state_survives_a_restart() -> None:
    finalizer = MetricsFinalizer(W, 1000, 64)
    partials = {("bot", "1", 0): {0: _partial([1])}}
    finalizer.step({0: 61_000}, partials, now=0)
    restarted = MetricsFinalizer(W, 1000, 64, finalizer.to_state())
    assert restarted.step({0: 61_000}, partials, now=0) == []
