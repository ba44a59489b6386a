"""Bad input becomes a dead letter with the right reason; good input decodes."""

import random
import uuid

import pytest

from producers.bad_records import BAD_RECORD_KINDS, make_bad_record
from schemas.serializer import serializer_for
from schemas.topics import DEADLETTER, FEEDBACK, INPUT_TOPICS, SIGNALS
from stream_processors.intake import EventDecoder, Rejection, dead_letter_record
from stream_processors.sessions import abandoned_signal_id

DECODER = EventDecoder(list(INPUT_TOPICS), max_value_bytes=100_000)


@pytest.mark.parametrize("kind", sorted(BAD_RECORD_KINDS))
def test_bad_records_get_their_reason(kind: str) -> None:
    topic, key, value, reason = make_bad_record(random.Random(3), kind, 200_000)
    result = DECODER.decode(topic.name, key, value)
    assert isinstance(result, Rejection)
    assert result.reason == reason


def _feedback(**overrides: object) -> dict:
    record = {
        "event_id": "f1",
        "session_id": "s1",
        "event_time": 1,
        "kind": "rating",
        "rating": 3,
        "source": "end_user",
    }
    record.update(overrides)
    return record


def test_semantic_checks() -> None:
    encode = serializer_for(FEEDBACK).encode
    assert DECODER.decode(FEEDBACK.name, b"s1", encode(_feedback()))["rating"] == 3
    for key, record in [
        (b"other", _feedback()),
        (b"s1", _feedback(rating=7)),
        (b"", _feedback()),
        (b"s1", _feedback(event_id="")),
    ]:
        result = DECODER.decode(FEEDBACK.name, key, encode(record))
        assert isinstance(result, Rejection)
        assert result.reason == ("missing_key" if not key else "schema_invalid")


def _signal(**overrides: object) -> dict:
    record = {
        "event_id": abandoned_signal_id("s1", 1),
        "session_id": "s1",
        "event_time": 1,
        "kind": "abandoned",
        "source": "inferred",
    }
    record.update(overrides)
    return record


def test_our_own_inferred_signals_are_ignored() -> None:
    encode = serializer_for(SIGNALS).encode
    assert DECODER.decode(SIGNALS.name, b"s1", encode(_signal())) is None
    # The id given until 6 Dec (the session id alone, for every use of it) is ours too.
    legacy = str(uuid.uuid5(uuid.UUID("5b0d4a52-6c7e-4f0e-9a37-2f1f3c0de001"), "s1/abandoned"))
    assert DECODER.decode(SIGNALS.name, b"s1", encode(_signal(event_id=legacy))) is None


def test_two_uses_of_a_session_id_have_their_own_abandoned_signal_ids() -> None:
    assert abandoned_signal_id("s1", 1) != abandoned_signal_id("s1", 2)


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_id": "agent-made"},
        {"kind": "task_completed"},
        {"session_id": "s2"},
        {"event_time": 2},  # the id of a close at another time
    ],
)
def test_other_inferred_signals_are_refused(overrides: dict) -> None:
    record = _signal(**overrides)
    key = record["session_id"].encode()
    result = DECODER.decode(SIGNALS.name, key, serializer_for(SIGNALS).encode(record))
    assert isinstance(result, Rejection) and result.reason == "reserved_source"


def test_an_agent_source_signal_is_accepted() -> None:
    record = _signal(event_id="x", source="client")
    decoded = DECODER.decode(SIGNALS.name, b"s1", serializer_for(SIGNALS).encode(record))
    assert isinstance(decoded, dict) and decoded["source"] == "client"


def test_future_event_time_is_refused_relative_to_when_it_was_sent() -> None:
    decoder = EventDecoder(list(INPUT_TOPICS), 100_000, max_future_skew_ms=300_000)
    encode = serializer_for(FEEDBACK).encode
    sent = 1_800_000_000_000
    ok = decoder.decode(FEEDBACK.name, b"s1", encode(_feedback(event_time=sent + 300_000)), sent)
    assert isinstance(ok, dict)
    late = encode(_feedback(event_time=sent + 300_001))
    refused = decoder.decode(FEEDBACK.name, b"s1", late, sent)
    assert isinstance(refused, Rejection) and refused.reason == "future_event_time"
    assert "300001 ms after" in refused.message
    # Without a send time (no timestamp and no clock given) nothing is refused for its time.
    assert isinstance(decoder.decode(FEEDBACK.name, b"s1", late), dict)


def test_dead_letter_keeps_bounded_original() -> None:
    letter = dead_letter_record(
        "oversized", "too big", topic="t", partition=1, offset=7, timestamp=5,
        key=b"k", value=b"x" * 100, max_bytes=10,
    )  # fmt: skip
    assert (
        letter["original"] == b"x" * 10 and letter["truncated"] and letter["original_size"] == 100
    )
    dead_letters = serializer_for(DEADLETTER)
    assert dead_letters.decode(dead_letters.encode(letter))["source_offset"] == 7
