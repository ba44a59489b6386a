import polars as pl

from curation.features import add_turn_features, normalized_text
from curation.source import read_enriched
from tests.unit.curation.enriched_factory import feedback, make_turn, signal, write_enriched


def _features(lake: str, rows: list[dict]) -> pl.DataFrame:
    write_enriched(lake, rows)
    return add_turn_features(read_enriched(lake).turns).sort("turn_index")


def test_explicit_feedback_on_the_turn_and_on_the_session(lake: str) -> None:
    rows = [
        make_turn("s", 0, session_turns=4, feedback=[feedback(thumbs_up=True)]),
        make_turn("s", 1, session_turns=4, feedback=[feedback("rating", rating=2)]),
        make_turn("s", 2, session_turns=4, feedback=[feedback("correction", correction="x")]),
        make_turn(
            "s", 3, session_turns=4, feedback=[feedback(thumbs_up=False, session_level=True)]
        ),
    ]
    out = _features(lake, rows)
    assert out["turn_positive"].to_list() == [True, False, False, False]
    assert out["turn_negative"].to_list() == [False, True, True, False]
    assert out["session_negative"].to_list() == [False, False, False, True]


def test_retried_from_signal_or_from_a_later_retry_of(lake: str) -> None:
    first = make_turn("s", 0, session_turns=3)
    second = make_turn("s", 1, session_turns=3, retry_of=first["event_id"])
    third = make_turn("s", 2, session_turns=3)
    second["signals"] = [signal("retried", interaction_id=second["event_id"], source="client")]
    out = _features(lake, [first, second, third])
    assert out["retried"].to_list() == [True, True, False]


def test_tool_failures_and_system_prompt(lake: str) -> None:
    tool = {"name": "search", "arguments": "{}", "latency_ms": 3}
    rows = [
        make_turn("s", 0, tools_used=[{**tool, "status": "ok"}], context=[]),
        make_turn("s", 1, tools_used=[{**tool, "status": "ok"}, {**tool, "status": "timeout"}]),
    ]
    out = _features(lake, rows)
    assert out["tool_failed"].to_list() == [False, True]
    assert out["system_prompt"].to_list() == [None, "You are a helpful support agent."]


def test_normalized_text_folds_case_punctuation_and_digits() -> None:
    frame = pl.DataFrame({"p": ["Where is order #12345?", "where is ORDER 98765", "other"]})
    keys = frame.select(normalized_text("p"))["p"].to_list()
    assert keys[0] == keys[1] == "where is order 0"
    assert keys[2] != keys[0]
