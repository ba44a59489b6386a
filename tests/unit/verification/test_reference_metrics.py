"""The reference's metric windows: attribution, coverage, cost, and sampled percentiles."""

from stream_processors.percentiles import BottomKSample
from verification.reference import ReferenceConfig, expected_results

from .factory import T0, Events

CONFIG = ReferenceConfig()
MINUTE = 60_000


def test_turns_outcomes_and_feedback_count_in_their_own_windows_and_for_their_agents() -> None:
    """A turn for its own agent version (9.9, deployed mid-session); the outcome, feedback on
    the first turn and session-level feedback for the first turn's (1.0)."""
    ev = Events()
    first = ev.turn("s", 10_000, tools_used=[_tool("ok"), _tool("error"), _tool("timeout")])
    ev.turn("s", 70_000, agent_version="9.9", turn_index=1)  # the session stays version 1.0
    ev.signal("s", 130_000, "escalated_to_human")
    ev.feedback("s", 200_000, interaction_id=first["event_id"], kind="rating", rating=4)
    ev.feedback("s", 200_500, kind="comment", thumbs_up=None, comment="meh")
    results = expected_results(ev.events, CONFIG)

    keys = {("bot", "1.0", T0 + m * MINUTE) for m in (0, 2, 3)} | {("bot", "9.9", T0 + MINUTE)}
    assert set(results.metrics) == keys
    w0, w2, w3 = (results.metrics[("bot", "1.0", T0 + m * MINUTE)].record for m in (0, 2, 3))
    w1 = results.metrics[("bot", "9.9", T0 + MINUTE)].record
    assert (w0["interactions"], w0["tool_calls"], w0["tool_errors"]) == (1, 3, 2)
    assert w0["tool_error_rate"] == 2 / 3 and w0["window_end"] == T0 + MINUTE
    assert (w1["interactions"], w1["sessions"]) == (1, 0)
    assert (w2["sessions"], w2["sessions_escalated"], w2["completion_rate"]) == (1, 1, 0.0)
    assert (w3["ratings"], w3["mean_rating"], w3["interactions"]) == (1, 4.0, 0)
    assert w3["thumbs_up_rate"] is None and w3["latency_p50_ms"] is None
    # Rated after its window ended: joined, but the turn does not count as covered.
    assert w0["interactions_with_feedback"] == 0


def test_coverage_needs_feedback_before_the_turns_window_ends() -> None:
    ev = Events()
    early = ev.turn("s", 10_000)
    later = ev.turn("s", 65_000, turn_index=1)
    ev.feedback("s", 59_999, interaction_id=early["event_id"])  # covers `early` only
    ev.feedback("s", 119_999, kind="comment", thumbs_up=None)  # session-level: covers `later`
    ev.signal("s", 130_000, "task_completed")
    results = expected_results(ev.events, CONFIG)

    w0 = results.metrics[("bot", "1.0", T0)].record
    w1 = results.metrics[("bot", "1.0", T0 + MINUTE)].record
    assert (w0["interactions_with_feedback"], w0["feedback_coverage"]) == (1, 1.0)
    assert (w1["interactions_with_feedback"], w1["feedback_coverage"]) == (1, 1.0)
    record = results.turns[later["event_id"]].record
    assert [f["session_level"] for f in record["feedback"]] == [True]  # a comment: no score
    assert (record["reward"], record["reward_source"]) == (0.5, "implicit")


def test_cost_is_summed_in_nano_dollars() -> None:
    ev = Events()
    for i in range(3):
        ev.turn(f"s{i}", 1_000 * i, cost_usd=0.1)
    results = expected_results(ev.events, CONFIG)
    assert results.metrics[("bot", "1.0", T0)].record["cost_usd"] == 0.3  # not 0.30000000000000004


def test_percentiles_of_a_window_with_more_turns_than_the_sample_use_the_hash_sample() -> None:
    config = ReferenceConfig(sample_size=16)
    ev = Events()
    sample = BottomKSample(16)
    for i in range(200):
        turn = ev.turn(f"s{i}", i * 100, latency_ms=i * 7 + 3)
        sample.add(turn["event_id"], float(turn["latency_ms"]))
    record = expected_results(ev.events, config).metrics[("bot", "1.0", T0)].record

    assert record["interactions"] == 200
    assert record["latency_p50_ms"] == sample.percentile(0.50)
    assert record["latency_p95_ms"] == sample.percentile(0.95)
    # The sample is not the whole window: the exact median would differ.
    assert record["latency_p50_ms"] != sorted(i * 7 + 3 for i in range(200))[99]


def test_exact_percentiles_at_or_below_the_sample_size() -> None:
    ev = Events()
    for i, latency in enumerate([50, 10, 40, 20, 30]):
        ev.turn(f"s{i}", i, latency_ms=latency)
    record = expected_results(ev.events, CONFIG).metrics[("bot", "1.0", T0)].record
    assert (record["latency_p50_ms"], record["latency_p95_ms"]) == (30.0, 50.0)


def _tool(status: str) -> dict[str, object]:
    return {"name": "search", "arguments": "{}", "status": status, "latency_ms": 5}
