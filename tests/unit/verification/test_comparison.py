"""One-line differences between the reference and the lake's rows."""

from verification.comparison import (
    compare_dead_letters,
    compare_enriched,
    compare_metrics,
    values_match,
)
from verification.reference import ExpectedDeadLetter, ExpectedMetric, ExpectedTurn


def test_floats_match_within_a_relative_tolerance_and_bools_are_not_numbers() -> None:
    assert values_match(0.1 + 0.2, 0.3)
    assert not values_match(0.3, 0.3000001)
    assert values_match(2, 2.0)
    assert not values_match(True, 1)
    assert values_match({"a": [1.0, None]}, {"a": [1, None]})


def test_enriched_lists_are_matched_by_event_id_and_each_field_is_reported() -> None:
    expected = {
        "t1": ExpectedTurn(
            "t1",
            "s",
            {
                "reward": 0.5,
                "feedback": [{"event_id": "f1", "rating": 4}, {"event_id": "f2", "rating": 2}],
                "signals": [],
            },
        ),
        "t2": ExpectedTurn("t2", "s", {"reward": 0.1, "feedback": [], "signals": []}),
    }
    found = {
        "t1": {
            "reward": 0.5,
            "feedback": [{"event_id": "f2", "rating": 2}, {"event_id": "f1", "rating": 5}],
            "signals": [{"event_id": "x"}],
        },
        "t3": {},
    }
    lines = [d.line() for d in compare_enriched(expected, found)]
    assert lines == [
        "enriched_interactions [event_id=t1 session_id=s] feedback[f1].rating: expected 4, found 5",
        "enriched_interactions [event_id=t1 session_id=s] signals[x]: "
        "expected 'absent', found 'present'",
        "enriched_interactions [event_id=t2] record: expected 'present', found 'absent'",
        "enriched_interactions [event_id=t3] record: expected 'absent', found 'present'",
    ]


def test_metrics_ignore_update_seq_and_report_missing_windows() -> None:
    key = ("bot", "1.0", 0)
    expected = {key: ExpectedMetric(key, {"update_seq": 1, "interactions": 3})}
    assert compare_metrics(expected, {key: {"update_seq": 7, "interactions": 3}}) == []
    (missing,) = compare_metrics(expected, {})
    assert missing.line() == (
        "quality_metrics [bot 1.0 window_start=0] final record: expected 'present', found 'absent'"
    )


def test_dead_letters_compare_decided_reasons_by_coordinates() -> None:
    expected = [
        ExpectedDeadLetter("t", 0, 1, "too_late", ""),
        ExpectedDeadLetter("t", 0, 2, "x", ""),
    ]
    found = [("t", 0, 2, "x"), ("t", 0, 3, "processing_error"), ("t", 0, 4, "schema_invalid")]
    lines = [d.line() for d in compare_dead_letters(expected, found)]
    assert lines == [
        "dead_letters [t/0@1] reason: expected 'too_late', found '(none)'",
        "dead_letters [t/0@4] reason: expected '(none)', found 'schema_invalid'",
    ]
