"""The checked encoder: fastavro's exact bytes for what it accepts, and it accepts only records
the full contract checks accept (anything else goes to the slow path, which names the field)."""

import time
import uuid
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.checks import check_feedback, check_interaction, check_signal, enum_symbols
from producers.encoding import checked_encoder, contract_guards, join_writer
from schemas.exceptions import InvalidRecordError
from schemas.fast_writer import compile_writer
from schemas.serializer import MARKER, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

LIMIT = 2000
EVENT_LIMIT = 1_000_000
SKEW_MS = 300_000
NOW = time.time_ns() // 1_000_000
# A clock a day ahead: beyond the skew allowed however long after import the tests run (the
# suite imports this module, then runs for half an hour).
BROKEN_CLOCK = NOW + 86_400_000
SERIALIZERS = {
    spec.value_record: serializer_for(spec) for spec in (INTERACTIONS, FEEDBACK, SIGNALS)
}
CHECKS = {
    INTERACTIONS.value_record: check_interaction,
    FEEDBACK.value_record: check_feedback,
    SIGNALS.value_record: check_signal,
}
ENCODERS = {
    name: checked_encoder(serializer, LIMIT, EVENT_LIMIT, SKEW_MS)
    for name, serializer in SERIALIZERS.items()
}


def fastavro_bytes(name: str, record: dict[str, Any]) -> bytes:
    writer = SERIALIZERS[name].writer
    buffer = BytesIO()
    buffer.write(MARKER + writer.fingerprint)
    schemaless_writer(buffer, writer.plain, record)
    return buffer.getvalue()


def accepted_by_the_slow_path(name: str, record: dict[str, Any]) -> bool:
    try:
        CHECKS[name](record, LIMIT)
    except InvalidRecordError:
        return False
    return record["event_time"] - time.time_ns() // 1_000_000 <= SKEW_MS


def outcome(name: str, record: dict[str, Any]) -> bytes | None:
    encoder = ENCODERS[name]
    assert encoder is not None
    try:
        return encoder(record)
    except Exception:  # the caller takes the slow path on any exception
        return None


def assert_sound(name: str, record: dict[str, Any]) -> bytes | None:
    """What the fast path returns is fastavro's bytes, for a record the checks accept."""
    written = outcome(name, record)
    if written is not None:
        assert accepted_by_the_slow_path(name, record), record
        assert written == fastavro_bytes(name, record)
        assert written == SERIALIZERS[name].encode(record)
    return written


# -- strategies: valid records (values at the edges of each rule), then 0-2 bad changes ---------

uuids = st.uuids().map(str)
words = st.text(min_size=1, max_size=20).filter(lambda text: not text.isspace())
texts = st.text(max_size=40) | st.sampled_from(["", "x" * (LIMIT // 2), "é" * (LIMIT // 4)])
counts = st.sampled_from([0, 1, 2**14 - 1, 2**14, 2**31 - 1]) | st.integers(0, 10**6)
times = st.sampled_from([NOW, NOW + SKEW_MS - 60_000, 946_684_800_000]) | st.integers(
    NOW - 10**9, NOW
)
BAD_TEXTS = [None, "", " ", "\t", 3, b"bytes", "x" * (LIMIT + 1), "é" * (LIMIT // 2 + 1)]
BAD_IDS = ["not-a-uuid", "{12345678-1234-5678-1234-567812345678}", "1234" * 8, 5, None]
BAD_COUNTS = [-1, 2**31, 1.0, True, "12", None]
BAD_TIMES = [BROKEN_CLOCK, 946_684_800_000 - 1, 4_102_444_800_001, 1.7e12, None]
COMMON_BAD = [
    *(("event_id", v) for v in BAD_IDS),
    *(("session_id", v) for v in BAD_TEXTS),
    *(("event_time", v) for v in BAD_TIMES),
    *(("interaction_id", v) for v in BAD_IDS if v is not None),
]


def mutated(valid: st.SearchStrategy[dict[str, Any]], bad: list[tuple[str, Any]]) -> Any:
    """A valid record with 0, 1 or 2 of `bad`'s (field, value) changes applied (a field
    absent from the record is added: an unknown field)."""

    def apply(pair: tuple[dict[str, Any], list[tuple[str, Any]]]) -> dict[str, Any]:
        record, changes = pair
        for field, value in changes:
            record[field] = value
        return record

    return st.tuples(valid, st.lists(st.sampled_from(bad), max_size=2)).map(apply)


tool_calls = st.fixed_dictionaries(
    {
        "name": words,
        "arguments": texts,
        "status": st.sampled_from(["ok", "error", "timeout"]),
        "latency_ms": counts,
    }
)
BAD_TOOLS = [
    [{"name": "t", "arguments": "{}", "status": "unknown", "latency_ms": 1}],
    [{"name": "t", "arguments": "{}", "status": "exploded", "latency_ms": 1}],
    [{"name": " ", "arguments": "{}", "status": "ok", "latency_ms": 1}],
    [{"name": "t", "arguments": "{}", "status": "ok", "latency_ms": -1}],
    [{"name": "t", "arguments": 3, "status": "ok", "latency_ms": 1}],
    [{"name": "t", "arguments": "{}", "status": "ok"}],
    ("not", "a", "list"),
]


@st.composite
def valid_interactions(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_id": draw(uuids),
        "session_id": draw(words),
        "turn_index": draw(counts),
        "agent_id": draw(words),
        "agent_version": draw(words),
        "model": draw(words),
        "event_time": draw(times),
        "user_id": draw(st.none() | texts),
        "prompt": draw(texts),
        "response": draw(texts),
        "reasoning": draw(st.none() | texts),
        "tools_used": draw(st.lists(tool_calls, max_size=3)),
        "context": draw(st.dictionaries(st.text(max_size=6), texts, max_size=3)),
        "latency_ms": draw(counts),
        "prompt_tokens": draw(counts),
        "completion_tokens": draw(counts),
        "cost_usd": draw(st.floats(0, 1e6) | st.sampled_from([0.0, 0])),
        "retry_of": draw(st.none() | uuids),
        "attachments": [],
    }


INTERACTION_BAD = [
    *COMMON_BAD,
    *((field, v) for field in ("agent_id", "model", "prompt") for v in BAD_TEXTS),
    *((field, v) for field in ("turn_index", "latency_ms") for v in BAD_COUNTS),
    *(("cost_usd", v) for v in (-0.1, float("nan"), float("inf"), "1", None)),
    *(("retry_of", v) for v in BAD_IDS if v is not None),
    *(("tools_used", v) for v in BAD_TOOLS),
    ("context", {"channel": 3}),
    ("context", {"doc": "x" * (LIMIT + 1)}),
    ("extra_field", 1),
]


@st.composite
def valid_feedback(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["thumbs", "rating", "correction", "comment"]))
    return {
        "event_id": draw(uuids),
        "session_id": draw(words),
        "interaction_id": draw(st.none() | uuids),
        "event_time": draw(times),
        "kind": kind,
        "thumbs_up": draw(st.booleans()) if kind == "thumbs" else None,
        "rating": draw(st.integers(1, 5)) if kind == "rating" else None,
        "correction": draw(words) if kind == "correction" else None,
        "comment": draw(words if kind == "comment" else st.none() | texts),
        "source": draw(st.sampled_from(sorted(enum_symbols(FEEDBACK.value_record, "source")))),
        "rater_id": draw(st.none() | texts),
        "attachments": [],
    }


FEEDBACK_BAD = [
    *COMMON_BAD,
    *(("kind", v) for v in ("unknown", "smiley", "rating", "comment", None, [])),
    *(("thumbs_up", v) for v in (None, 1, True, "yes")),
    *(("rating", v) for v in (0, 6, 3, 4.5, None)),
    *(("correction", v) for v in ("", "fix it", None)),
    *(("comment", v) for v in ("", None, "x" * (LIMIT + 1))),
    *(("source", v) for v in ("unknown", "robot", None)),
]


@st.composite
def valid_signals(draw: st.DrawFn) -> dict[str, Any]:
    sources = sorted(enum_symbols(SIGNALS.value_record, "source") - {"inferred"})
    return {
        "event_id": draw(uuids),
        "session_id": draw(words),
        "interaction_id": draw(st.none() | uuids),
        "event_time": draw(times),
        "kind": draw(st.sampled_from(sorted(enum_symbols(SIGNALS.value_record, "kind")))),
        "source": draw(st.sampled_from(sources)),
        "detail": draw(st.none() | texts),
    }


SIGNAL_BAD = [
    *COMMON_BAD,
    *(("kind", v) for v in ("unknown", "exploded", None)),
    *(("source", v) for v in ("inferred", "unknown", None)),
    *(("detail", v) for v in ("x" * (LIMIT + 1), 3)),
]
interactions = mutated(valid_interactions(), INTERACTION_BAD)
feedbacks = mutated(valid_feedback(), FEEDBACK_BAD)
signals = mutated(valid_signals(), SIGNAL_BAD)


PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(interactions)
def test_interactions_fast_path_is_sound(record: dict[str, Any]) -> None:
    assert_sound(INTERACTIONS.value_record, record)


@PROPERTY
@given(feedbacks)
def test_feedback_fast_path_is_sound(record: dict[str, Any]) -> None:
    assert_sound(FEEDBACK.value_record, record)


@PROPERTY
@given(signals)
def test_signals_fast_path_is_sound(record: dict[str, Any]) -> None:
    assert_sound(SIGNALS.value_record, record)


def good_interaction(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "session_id": "s-1",
        "turn_index": 0,
        "agent_id": "support-bot",
        "agent_version": "1.0",
        "model": "m",
        "event_time": NOW,
        "user_id": None,
        "prompt": "hi",
        "response": "hello",
        "reasoning": None,
        "tools_used": [{"name": "search", "arguments": "{}", "status": "ok", "latency_ms": 3}],
        "context": {"channel": "web"},
        "latency_ms": 10,
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "cost_usd": 0.001,
        "retry_of": None,
        "attachments": [],
    }
    record.update(changes)
    return record


def test_the_common_events_take_the_fast_path() -> None:
    """The fast path is not a dead branch: good events of every kind go through it."""
    feedback = {
        "event_id": str(uuid.uuid4()),
        "session_id": "s-1",
        "interaction_id": None,
        "event_time": NOW,
        "kind": "rating",
        "thumbs_up": None,
        "rating": 4,
        "correction": None,
        "comment": "fine",
        "source": "end_user",
        "rater_id": None,
        "attachments": [],
    }
    signal = {
        "event_id": str(uuid.uuid4()),
        "session_id": "s-1",
        "interaction_id": str(uuid.uuid4()),
        "event_time": NOW,
        "kind": "task_completed",
        "source": "agent",
        "detail": None,
    }
    for name, record in (
        (INTERACTIONS.value_record, good_interaction()),
        (FEEDBACK.value_record, feedback),
        (SIGNALS.value_record, signal),
    ):
        assert assert_sound(name, record) is not None, name


@pytest.mark.parametrize(
    "changes",
    [
        {"session_id": "   "},
        {"agent_id": ""},
        {"event_id": "not-a-uuid"},
        {"turn_index": -1},
        {"latency_ms": 2**31},
        {"cost_usd": float("nan")},
        {"cost_usd": -0.5},
        {"event_time": BROKEN_CLOCK},  # a broken clock
        {"event_time": 946_684_800_000 - 1},  # before 2000: seconds passed by mistake?
        {"response": "é" * (LIMIT // 2 + 1)},  # over the text limit in UTF-8 bytes
        {"tools_used": [{"name": "t", "arguments": "{}", "status": "unknown", "latency_ms": 1}]},
        {"tools_used": [{"name": " ", "arguments": "{}", "status": "ok", "latency_ms": 1}]},
        {"tools_used": [{"name": "t", "arguments": "{}", "status": "ok", "latency_ms": -1}]},
    ],
)
def test_each_rule_sends_the_record_to_the_slow_path(changes: dict[str, Any]) -> None:
    record = good_interaction(**changes)
    assert not accepted_by_the_slow_path(INTERACTIONS.value_record, record)
    assert outcome(INTERACTIONS.value_record, record) is None


def test_a_turn_retrying_itself_takes_the_slow_path() -> None:
    record = good_interaction()
    record["retry_of"] = record["event_id"]
    assert outcome(INTERACTIONS.value_record, record) is None


def test_no_fast_path_for_another_wire_format() -> None:
    class ConfluentLike:
        def encode(self, record: Any) -> bytes:
            return b"\x00"

    assert checked_encoder(ConfluentLike(), LIMIT, EVENT_LIMIT, SKEW_MS) is None


def test_the_joining_writer_handles_every_input_schema() -> None:
    """The fast path is the joining writer, not the bytearray one it falls back to."""
    guards, constants = contract_guards()
    for serializer in SERIALIZERS.values():
        writer = serializer.writer
        joined = join_writer(writer.plain, MARKER + writer.fingerprint, guards, constants, LIMIT)
        assert joined is not None, writer.full_name
    fixed = {"type": "fixed", "name": "f", "size": 2}
    assert join_writer(fixed, b"", {}, {}, LIMIT) is None
    record = {"type": "record", "name": "r", "fields": [{"name": "f", "type": fixed}]}
    assert join_writer(record, b"", {}, {}, LIMIT) is None


GUARDS, CONSTANTS = contract_guards()
BYTEARRAY_WRITERS = {
    name: compile_writer(
        serializer.writer.plain,
        prefix=MARKER + serializer.writer.fingerprint,
        guards=GUARDS,
        constants={**CONSTANTS, "_MAX_AHEAD": SKEW_MS},
        max_size=LIMIT,
    )
    for name, serializer in SERIALIZERS.items()
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(interactions, feedbacks, signals))
def test_the_bytearray_writer_with_the_same_guards_agrees(record: dict[str, Any]) -> None:
    """The fallback for schemas the joining writer does not handle: same verdicts, same bytes."""
    name = _name_of(record)
    writer = BYTEARRAY_WRITERS[name]
    assert writer is not None
    try:
        written: bytes | None = writer(record)
    except Exception:
        written = None
    assert written == outcome(name, record)


def _name_of(record: dict[str, Any]) -> str:
    if "turn_index" in record:
        return INTERACTIONS.value_record
    return FEEDBACK.value_record if "rater_id" in record else SIGNALS.value_record
