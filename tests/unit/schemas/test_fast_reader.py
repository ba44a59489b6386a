"""The compiled Avro reader returns fastavro's records, and refuses what it cannot read plainly."""

import random
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from producers.traffic import TrafficConfig, generate_traffic
from schemas.catalog import default_catalog
from schemas.exceptions import UndecodableError
from schemas.fast_reader import compile_reader
from schemas.serializer import HEADER_SIZE, MARKER, SingleObjectSerializer, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

CATALOG = default_catalog()
VERSIONS = [v for name in CATALOG.names() for v in CATALOG.versions(name)]
NOT_READ = object()


def fastavro_bytes(schema: Any, record: Any) -> bytes:
    buffer = BytesIO()
    schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def fastavro_record(schema: Any, body: bytes) -> Any:
    """fastavro's record for the whole of `body`, or NOT_READ when it fails or leaves bytes."""
    buffer = BytesIO(body)
    try:
        record = schemaless_reader(buffer, schema, None)
    except Exception:
        return NOT_READ
    return record if buffer.tell() == len(body) else NOT_READ


def compiled_record(reader: Any, body: bytes) -> Any:
    try:
        return reader(body, 0)
    except Exception:
        return NOT_READ


def random_records(version: Any, count: int) -> list[Any]:
    state = random.getstate()
    random.seed(version.version)
    try:
        return list(generate_many(version.plain, count))
    finally:
        random.setstate(state)


def bit_flips(body: bytes, rng: random.Random, count: int) -> list[bytes]:
    """`count` copies of `body`, each with one random bit flipped."""
    flipped = []
    for _ in range(count):
        copy = bytearray(body)
        copy[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        flipped.append(bytes(copy))
    return flipped


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.full_name}-v{v.version}")
def test_same_records_as_fastavro_for_random_records(version: Any) -> None:
    reader = compile_reader(version.plain)
    assert reader is not None, "every shipped schema is supported"
    compared = 0
    for record in random_records(version, 300):
        body = fastavro_bytes(version.plain, record)
        read = compiled_record(reader, body)
        if read is NOT_READ:
            continue  # e.g. a random long of 10 bytes: left to fastavro
        assert read == fastavro_record(version.plain, body)
        assert list(read) == list(fastavro_record(version.plain, body))  # field order too
        compared += 1
    assert compared >= 200


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.full_name}-v{v.version}")
def test_corrupt_bodies_are_refused_or_read_as_fastavro_reads_them(version: Any) -> None:
    """Truncated, extended and bit-flipped bodies: never a record fastavro would not return."""
    reader = compile_reader(version.plain)
    rng = random.Random(version.version)
    refused = 0
    for record in random_records(version, 40):
        body = fastavro_bytes(version.plain, record)
        damaged = [body[:cut] for cut in range(len(body))] + [body + b"\x00", body + b"\x02x"]
        damaged += bit_flips(body, rng, 30)
        for candidate in damaged:
            read = compiled_record(reader, candidate)
            if read is NOT_READ:
                refused += 1
            else:
                assert read == fastavro_record(version.plain, candidate), candidate
    assert refused > 0


def test_generated_traffic_reads_the_same() -> None:
    events = list(generate_traffic(TrafficConfig(sessions=60, seed=3)).events())
    for spec in (INTERACTIONS, FEEDBACK, SIGNALS):
        schema = CATALOG.latest(spec.value_record).plain
        reader = compile_reader(schema)
        bodies = [e.value()[HEADER_SIZE:] for e in events if e.topic is spec and e.raw is None]
        assert bodies
        for body in bodies:
            assert reader is not None and reader(body, 0) == fastavro_record(schema, body)


def test_encodings_it_leaves_to_fastavro() -> None:
    """A valid encoding it does not read itself (a union index padded to two bytes): the
    serializer still decodes it, through fastavro."""
    serializer = serializer_for(SIGNALS)
    version = serializer.reader
    reader = compile_reader(version.plain)
    assert reader is not None
    record = {
        "event_id": "e",
        "session_id": "s",
        "interaction_id": None,
        "event_time": 2**62,
        "kind": "retried",
        "source": "client",
        "detail": None,
    }
    body = fastavro_bytes(version.plain, record)
    assert body[4] == 0  # interaction_id's union index, after "e" and "s" (2 bytes each)
    padded = body[:4] + b"\x80\x00" + body[5:]
    assert compiled_record(reader, body) == record
    assert compiled_record(reader, padded) is NOT_READ
    assert fastavro_record(version.plain, padded) == record
    assert serializer.decode(MARKER + version.fingerprint + padded) == record


def test_a_count_larger_than_the_data_is_refused() -> None:
    """A corrupt huge count fails at once instead of looping; fastavro keeps the odd valid case
    (items that take no bytes)."""
    schema = {
        "type": "record",
        "name": "Nulls",
        "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}],
    }
    reader = compile_reader(schema)
    body = fastavro_bytes(schema, {"a": [None] * 1000})
    assert compiled_record(reader, body) is NOT_READ
    assert fastavro_record(schema, body) == {"a": [None] * 1000}


def test_invalid_utf8_is_still_an_undecodable_message() -> None:
    serializer = serializer_for(SIGNALS)
    version = serializer.reader
    record = {
        "event_id": "e",
        "session_id": "sx",
        "interaction_id": None,
        "event_time": 5,
        "kind": "retried",
        "source": "client",
        "detail": None,
    }
    body = bytearray(fastavro_bytes(version.plain, record))
    body[body.index(b"sx") + 1] = 0xFF
    with pytest.raises(UndecodableError, match="corrupt"):
        serializer.decode(MARKER + version.fingerprint + bytes(body))


def test_named_type_references_are_left_to_fastavro() -> None:
    schema = {
        "type": "record",
        "name": "Pair",
        "fields": [
            {"name": "a", "type": {"type": "enum", "name": "Side", "symbols": ["L", "R"]}},
            {"name": "b", "type": "Side"},
        ],
    }
    assert compile_reader(schema) is None


def test_an_installed_reader_reads_the_newest_version_only() -> None:
    serializer = SingleObjectSerializer(INTERACTIONS.value_record)
    newest = CATALOG.latest(INTERACTIONS.value_record)
    calls: list[int] = []

    def counting(data: bytes, pos: int) -> dict[str, Any]:
        calls.append(pos)
        raise ValueError("refused")  # the serializer then reads it with fastavro

    assert not serializer.install_reader({b"\x00" * 8: counting})
    assert serializer.install_reader({newest.fingerprint: counting})
    event = next(generate_traffic(TrafficConfig(sessions=1, seed=3)).events())
    assert serializer.decode(event.value()) == fastavro_record(
        newest.plain, event.value()[HEADER_SIZE:]
    )
    assert calls == [HEADER_SIZE]
