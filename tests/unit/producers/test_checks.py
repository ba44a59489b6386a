"""The contract checks the SDK adds to the schemas: each bad input names its field."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from producers.checks import (
    _interaction_looks_valid,
    check_feedback,
    check_interaction,
    check_signal,
)
from producers.records import build_feedback, build_interaction, build_signal, event_time_ms
from schemas.exceptions import InvalidRecordError
from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

LIMIT = 1000
T0 = 1_767_225_600_000


def interaction(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "session_id": "s-1",
        "turn_index": 0,
        "agent_id": "support-bot",
        "agent_version": "1.0",
        "model": "m",
        "prompt": "hi",
        "response": "hello",
        "latency_ms": 10,
        "event_time": T0,
    }
    fields.update(changes)
    return build_interaction(**fields)


def test_builders_fill_event_id_and_time_and_encode() -> None:
    before = event_time_ms(None)
    record = interaction(event_time=None, tools_used=[{"name": "search", "arguments": {"q": 1}}])
    uuid.UUID(record["event_id"])
    assert before <= record["event_time"] <= event_time_ms(None)
    assert record["tools_used"] == [
        {"name": "search", "arguments": '{"q":1}', "status": "ok", "latency_ms": 0}
    ]
    check_interaction(record, LIMIT)
    assert (
        serializer_for(INTERACTIONS).decode(serializer_for(INTERACTIONS).encode(record)) == record
    )


def test_event_time_accepts_aware_datetimes_only() -> None:
    assert event_time_ms(datetime(2026, 1, 1, tzinfo=UTC)) == T0
    plus_one = timezone(timedelta(hours=1))
    assert event_time_ms(datetime(2026, 1, 1, 1, tzinfo=plus_one)) == T0
    with pytest.raises(InvalidRecordError, match="naive") as caught:
        event_time_ms(datetime(2026, 1, 1))
    assert caught.value.field == "event_time"


@pytest.mark.parametrize("value", [T0 // 1000, T0 * 1000, 1.5e12, "2026-01-01", True])
def test_event_time_rejects_seconds_micros_and_other_types(value: Any) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        event_time_ms(value)
    assert caught.value.field == "event_time"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"session_id": ""}, "session_id"),
        ({"session_id": "   "}, "session_id"),
        ({"session_id": None}, "session_id"),
        ({"session_id": 42}, "session_id"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"agent_id": ""}, "agent_id"),
        ({"prompt": None}, "prompt"),
        ({"prompt": b"bytes"}, "prompt"),
        ({"response": "é" * 501}, "response"),  # 1002 UTF-8 bytes, 501 characters
        ({"reasoning": "x" * (LIMIT + 1)}, "reasoning"),
        ({"turn_index": -1}, "turn_index"),
        ({"turn_index": 2.0}, "turn_index"),
        ({"turn_index": True}, "turn_index"),
        ({"latency_ms": 2**31}, "latency_ms"),
        ({"prompt_tokens": "12"}, "prompt_tokens"),
        ({"cost_usd": -0.1}, "cost_usd"),
        ({"cost_usd": float("nan")}, "cost_usd"),
        ({"retry_of": "nope"}, "retry_of"),
        ({"event_id": "{12345678-1234-5678-1234-567812345678}"}, "event_id"),
        ({"event_id": "12345678123456781234567812345678"}, "event_id"),
        ({"tools_used": [{"name": "", "arguments": "{}"}]}, "tools_used[0].name"),
        ({"tools_used": [{"name": "t", "status": "exploded"}]}, "tools_used[0].status"),
        ({"tools_used": [{"name": "t", "latency_ms": -5}]}, "tools_used[0].latency_ms"),
        ({"tools_used": [{"name": "t", "arguments": "x" * 2000}]}, "tools_used[0].arguments"),
        ({"context": {"channel": 3}}, "context.channel"),
        ({"context": {"doc": "x" * 2000}}, "context.doc"),
    ],
)
def test_interaction_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    record = interaction(**changes)
    assert not _interaction_looks_valid(record, LIMIT)  # the fast path must have a doubt
    with pytest.raises(InvalidRecordError) as caught:
        check_interaction(record, LIMIT)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_text_at_the_limit_passes() -> None:
    """Long texts take the full check, which measures UTF-8 bytes exactly."""
    record = interaction(response="é" * 500, prompt="x" * LIMIT)
    assert not _interaction_looks_valid(record, LIMIT)
    check_interaction(record, LIMIT)


def test_mappings_other_than_dict_take_the_full_check() -> None:
    from types import MappingProxyType

    record = interaction(tools_used=[{"name": "t"}])
    record["tools_used"] = [MappingProxyType(record["tools_used"][0])]
    record["context"] = MappingProxyType({"channel": "web"})
    assert not _interaction_looks_valid(record, LIMIT)
    check_interaction(record, LIMIT)


def test_a_turn_cannot_retry_itself() -> None:
    record = interaction()
    record["retry_of"] = record["event_id"]
    with pytest.raises(InvalidRecordError) as caught:
        check_interaction(record, LIMIT)
    assert caught.value.field == "retry_of"


def feedback(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"session_id": "s-1", "kind": "thumbs", "thumbs_up": True}
    fields.update(changes)
    return build_feedback(event_time=T0, **fields)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"thumbs_up": False, "comment": "meh", "interaction_id": str(uuid.uuid4())},
        {"kind": "rating", "thumbs_up": None, "rating": 1},
        {"kind": "rating", "thumbs_up": None, "rating": 5, "source": "human_reviewer"},
        {"kind": "correction", "thumbs_up": None, "correction": "Say X instead."},
        {"kind": "comment", "thumbs_up": None, "comment": "Great!"},
    ],
)
def test_consistent_feedback_passes_and_encodes(changes: dict[str, Any]) -> None:
    record = feedback(**changes)
    check_feedback(record, LIMIT)
    serializer_for(FEEDBACK).encode(record)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "rating", "thumbs_up": None, "rating": 0}, "rating"),
        ({"kind": "rating", "thumbs_up": None, "rating": 6}, "rating"),
        ({"kind": "rating", "thumbs_up": None, "rating": 4.5}, "rating"),
        ({"kind": "rating", "thumbs_up": None}, "rating"),
        ({"thumbs_up": None}, "thumbs_up"),
        ({"thumbs_up": 1}, "thumbs_up"),
        ({"rating": 3}, "rating"),
        ({"kind": "correction", "thumbs_up": None, "correction": ""}, "correction"),
        ({"kind": "comment"}, "comment"),
        ({"kind": "comment", "comment": "hi"}, "thumbs_up"),
        ({"kind": "unknown"}, "kind"),
        ({"kind": "smiley"}, "kind"),
        ({"source": "robot"}, "source"),
        ({"interaction_id": "turn-3"}, "interaction_id"),
        ({"comment": "x" * (LIMIT + 1)}, "comment"),
    ],
)
def test_inconsistent_feedback_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        check_feedback(feedback(**changes), LIMIT)
    assert caught.value.field == field


def test_signals() -> None:
    record = build_signal(session_id="s-1", kind="retried", interaction_id=str(uuid.uuid4()))
    check_signal(record, LIMIT)
    serializer_for(SIGNALS).encode(record)
    for changes, field in [
        ({"kind": "exploded"}, "kind"),
        ({"source": "unknown"}, "source"),
        ({"detail": "x" * (LIMIT + 1)}, "detail"),
        ({"session_id": ""}, "session_id"),
    ]:
        with pytest.raises(InvalidRecordError) as caught:
            check_signal({**record, **changes}, LIMIT)
        assert caught.value.field == field


def test_the_inferred_source_is_reserved_for_the_processor() -> None:
    record = build_signal(session_id="s-1", kind="abandoned", source="inferred")
    with pytest.raises(InvalidRecordError) as error:
        check_signal(record, LIMIT)
    assert error.value.field == "source"
    check_signal(build_signal(session_id="s-1", kind="abandoned", source="client"), LIMIT)


@pytest.mark.parametrize("value", [[], {"a": 1}, ["thumbs"]])
def test_an_unhashable_enum_value_is_refused_naming_its_field(value: Any) -> None:
    feedback = build_feedback(session_id="s-1", kind="thumbs", thumbs_up=True, event_time=T0)
    with pytest.raises(InvalidRecordError) as refused:
        check_feedback({**feedback, "source": value}, LIMIT)
    assert refused.value.field == "source"
    with pytest.raises(InvalidRecordError) as refused:
        check_interaction(interaction(tools_used=[{"name": "t", "status": value}]), LIMIT)
    assert refused.value.field == "tools_used[0].status"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"context": "0"}, "context"),
        ({"context": ["a"]}, "context"),
        ({"tools_used": "search"}, "tools_used"),
        ({"tools_used": 3}, "tools_used"),
        ({"tools_used": {"name": "search"}}, "tools_used"),
    ],
)
def test_a_context_or_tool_list_of_the_wrong_type_names_its_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRecordError) as refused:
        interaction(**changes)
    assert refused.value.field == field
