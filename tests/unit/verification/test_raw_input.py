"""Raw lake rows -> events or the intake dead letters that need the bytes."""

from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS
from verification.raw_input import RawRow, decode_raw_rows

from .factory import Events

TOPIC = INTERACTIONS.in_namespace("ns1").name


def test_each_unreadable_row_gets_its_reason_and_good_rows_decode() -> None:
    record = Events().turn("s", 0)
    good = serializer_for(INTERACTIONS).encode(record)
    wrong = serializer_for(FEEDBACK).encode(Events().feedback("s", 0))
    rows = [
        RawRow(TOPIC, 1, 0, 5, b"s", good),
        RawRow(TOPIC, 1, 1, 5, b"s", good + b"x" * 100),  # oversized (bound 150 below)
        RawRow(TOPIC, 1, 2, 5, None, good),
        RawRow(TOPIC, 1, 3, 5, b"s", None),
        RawRow(TOPIC, 1, 4, 5, b"s", b"\x00garbage"),
        RawRow(TOPIC, 1, 5, 5, b"s", good[:2] + b"\x00" * 8 + good[10:]),
        RawRow(TOPIC, 1, 6, 5, b"s", wrong),
        RawRow(TOPIC, 1, 7, 5, b"s", good[:-3]),
    ]
    assert len(good) <= 150 < len(good) + 100
    decoded = decode_raw_rows(rows, max_value_bytes=150)

    assert [(e.kind, e.offset, e.key, e.timestamp) for e in decoded.events] == [
        ("interaction", 0, b"s", 5)
    ]
    assert decoded.events[0].record["event_id"] == record["event_id"]
    assert [(d.offset, d.reason) for d in decoded.dead_letters] == [
        (1, "oversized"),
        (2, "missing_key"),
        (3, "undecodable"),
        (4, "undecodable"),
        (5, "unknown_fingerprint"),
        (6, "wrong_schema"),
        (7, "undecodable"),
    ]
