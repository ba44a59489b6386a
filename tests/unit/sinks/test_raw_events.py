"""raw_events conversion: every message becomes exactly one row, bad ones with decode_error."""

import datetime as dt

import pytest

from schemas import serializer_for
from schemas.lake import RAW_EVENTS
from schemas.topics import FEEDBACK, INTERACTIONS, METRICS, SIGNALS
from sinks.raw_events import RawEventConverter
from tests.unit.sinks.events import START_MS, FakeMessage, feedback, interaction, signal

EXPECTED = {spec.name: spec.value_record for spec in (INTERACTIONS, FEEDBACK, SIGNALS)}


@pytest.fixture(params=[False, True], ids=["prefix", "validating"])
def converter(request: pytest.FixtureRequest) -> RawEventConverter:
    return RawEventConverter(EXPECTED, validate_bodies=request.param)


def test_good_events_keep_their_bytes_and_decode_the_lookup_columns(
    converter: RawEventConverter,
) -> None:
    turn = interaction("s-1", 0, "user-7", START_MS + 5)
    value = serializer_for(INTERACTIONS).encode(turn)
    messages = [
        FakeMessage(value, INTERACTIONS.name, 2, 40, b"s-1"),
        FakeMessage(
            serializer_for(FEEDBACK).encode(feedback("s-1", turn["event_id"], START_MS)),
            FEEDBACK.name,
            2,
            7,
        ),
        FakeMessage(
            serializer_for(SIGNALS).encode(signal("s-1", "task_completed", START_MS)),
            SIGNALS.name,
            2,
            9,
        ),
    ]
    table = converter.convert(messages)
    assert table.schema == RAW_EVENTS.arrow_schema()
    rows = table.to_pylist()
    assert [r["kafka_offset"] for r in rows] == [40, 7, 9]
    first = rows[0]
    assert first["value"] == value and first["key"] == b"s-1"
    assert first["event_id"] == turn["event_id"]
    assert first["session_id"] == "s-1" and first["user_id"] == "user-7"
    assert first["record_name"] == INTERACTIONS.value_record
    assert first["schema_fingerprint"] == value[2:10].hex()
    assert first["decode_error"] is None
    assert first["event_date"] == dt.date(2026, 1, 1)
    assert rows[1]["user_id"] is None and rows[1]["decode_error"] is None
    assert rows[2]["session_id"] == "s-1"


def test_bad_messages_become_rows_with_a_reason(converter: RawEventConverter) -> None:
    good = serializer_for(INTERACTIONS).encode(interaction("s-1", 0, "u", START_MS))
    unknown = b"\xc3\x01" + b"\x00" * 8 + good[10:]
    wrong = serializer_for(METRICS)
    metric_fp = wrong.writer.fingerprint
    messages = [
        FakeMessage(b"not avro at all", INTERACTIONS.name, 0, 0),
        FakeMessage(good[:12], INTERACTIONS.name, 0, 1),
        FakeMessage(unknown, INTERACTIONS.name, 0, 2),
        FakeMessage(b"\xc3\x01" + metric_fp + b"\x00", INTERACTIONS.name, 0, 3),
        FakeMessage(None, INTERACTIONS.name, 0, 4),
        FakeMessage(serializer_for(SIGNALS).encode(signal("s", "retried", 1)), FEEDBACK.name),
    ]
    rows = converter.convert(messages).to_pylist()
    reasons = [r["decode_error"].split(":")[0] for r in rows]
    assert reasons == [
        "undecodable",
        "undecodable",
        "unknown_fingerprint",
        "wrong_schema",
        "undecodable",
        "wrong_schema",
    ]
    assert rows[0]["value"] == b"not avro at all"
    assert all(r["event_id"] is None and r["session_id"] is None for r in rows)
    # No event time: the partition date falls back to the Kafka timestamp.
    assert rows[0]["event_date"] == dt.date(2026, 1, 1)


def test_only_the_validating_reader_sees_a_corrupt_tail() -> None:
    value = serializer_for(INTERACTIONS).encode(interaction("s-1", 0, "u", START_MS))
    cut = [FakeMessage(value[:-5], INTERACTIONS.name)]
    assert RawEventConverter(EXPECTED).convert(cut)["decode_error"][0].as_py() is None
    validating = RawEventConverter(EXPECTED, validate_bodies=True)
    assert validating.convert(cut)["decode_error"][0].as_py().startswith("undecodable")
