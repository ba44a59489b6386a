"""The wire format: Avro single-object encoding, checked against the Avro specification."""

import json
import uuid
from typing import Any

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.catalog import default_catalog
from schemas.exceptions import (
    InvalidRecordError,
    UndecodableError,
    UnknownFingerprintError,
    WrongSchemaError,
)
from schemas.serializer import HEADER_SIZE, MARKER, SingleObjectSerializer, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

# The Avro specification's reference CRC-64-AVRO ("Schema Fingerprints"), written out here so the
# catalog's fingerprints are checked against an independent implementation.
_EMPTY = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def signal(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": "s-1",
        "interaction_id": None,
        "event_time": 1_767_225_600_000,
        "kind": "task_completed",
        "source": "agent",
        "detail": None,
        **changes,
    }


def test_the_specs_test_vector() -> None:
    """The CRC-64-AVRO fingerprint of the schema "int" is 8247732601305521295."""
    assert crc64_avro(b'"int"') == 8247732601305521295
    wire = bytes.fromhex(fingerprint(to_parsing_canonical_form("int"), "CRC-64-AVRO"))
    assert int.from_bytes(wire, "little") == 8247732601305521295


@pytest.mark.parametrize(
    "version",
    [v for n in default_catalog().names() for v in default_catalog().versions(n)],
    ids=str,
)
def test_catalog_fingerprints_are_little_endian_crc64_of_the_canonical_form(version: Any) -> None:
    canonical = to_parsing_canonical_form(version.parsed).encode()
    assert version.fingerprint == crc64_avro(canonical).to_bytes(8, "little")
    assert json.loads(canonical)["name"] == version.full_name


def test_a_message_is_marker_fingerprint_body() -> None:
    serializer = serializer_for(SIGNALS)
    data = serializer.encode(signal())
    assert data[:2] == MARKER == b"\xc3\x01"
    assert data[2:HEADER_SIZE] == default_catalog().latest(SIGNALS.value_record).fingerprint
    decoded, writer = serializer.decode_with_writer(data)
    assert writer.version == default_catalog().latest(SIGNALS.value_record).version
    assert decoded["kind"] == "task_completed"


def test_interactions_are_written_with_the_newest_version() -> None:
    serializer = serializer_for(INTERACTIONS)
    assert serializer.writer is default_catalog().latest(INTERACTIONS.value_record)
    assert serializer.writer.version >= 2 and "retry_of" in serializer.writer.field_names


def test_unknown_fingerprint() -> None:
    data = serializer_for(SIGNALS).encode(signal())
    forged = MARKER + bytes(8) + data[HEADER_SIZE:]
    with pytest.raises(UnknownFingerprintError) as caught:
        serializer_for(SIGNALS).decode(forged)
    assert caught.value.reason == "unknown_fingerprint"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: b"",
        lambda data: data[:1],
        lambda data: data[:HEADER_SIZE],  # header only
        lambda data: data[:-3],  # truncated body
        lambda data: data + b"\x00\x01",  # trailing bytes
        lambda data: b"\xc3\x02" + data[2:],  # wrong marker
        lambda data: b'{"kind": "task_completed"}',  # JSON, not Avro
    ],
    ids=["empty", "one-byte", "header-only", "truncated", "trailing", "bad-marker", "json"],
)
def test_undecodable_messages(mangle: Any) -> None:
    data = serializer_for(SIGNALS).encode(signal(detail="some detail text"))
    with pytest.raises(UndecodableError) as caught:
        serializer_for(SIGNALS).decode(mangle(data))
    assert caught.value.reason == "undecodable"


def test_a_record_of_another_topic_is_wrong_schema() -> None:
    data = serializer_for(SIGNALS).encode(signal())
    with pytest.raises(WrongSchemaError) as caught:
        serializer_for(FEEDBACK).decode(data)
    assert caught.value.reason == "wrong_schema"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (signal(kind="exploded"), "kind"),
        (signal(event_time="yesterday"), "event_time"),
        ({k: v for k, v in signal().items() if k != "session_id"}, "session_id"),
        (signal(colour="red"), "colour"),
    ],
)
def test_invalid_records_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        serializer_for(SIGNALS).encode(record)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == "schema_invalid"


def test_missing_fields_with_defaults_are_filled() -> None:
    record = {k: v for k, v in signal().items() if k not in ("detail", "interaction_id")}
    serializer = SingleObjectSerializer(SIGNALS.value_record)
    assert serializer.decode(serializer.encode(record)) == {
        **record,
        "detail": None,
        "interaction_id": None,
    }
