"""Bad input becomes a dead letter with the right reason; good input decodes."""

import random

import pytest

from producers.bad_records import BAD_RECORD_KINDS, make_bad_record
from schemas.serializer import serializer_for
from schemas.topics import DEADLETTER, FEEDBACK, INPUT_TOPICS, SIGNALS
from stream_processors.intake import EventDecoder, Rejection, dead_letter_record

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


def test_inferred_signals_are_ignored() -> None:
    signal = {
        "event_id": "x",
        "session_id": "s1",
        "event_time": 1,
        "kind": "abandoned",
        "source": "inferred",
    }
    assert DECODER.decode(SIGNALS.name, b"s1", serializer_for(SIGNALS).encode(signal)) is None


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
