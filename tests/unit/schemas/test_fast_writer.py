"""The compiled Avro writer gives fastavro's exact bytes, and declines what it cannot write."""

import random
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.utils import generate_many

from schemas.catalog import default_catalog
from schemas.fast_writer import Fallback, compile_writer
from schemas.serializer import HEADER_SIZE, serializer_for
from schemas.topics import INTERACTIONS, SIGNALS

CATALOG = default_catalog()
VERSIONS = [v for name in CATALOG.names() for v in CATALOG.versions(name)]


def fastavro_bytes(schema: Any, record: Any) -> bytes:
    buffer = BytesIO()
    schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.full_name}-v{v.version}")
def test_same_bytes_as_fastavro_for_random_records(version: Any) -> None:
    writer = compile_writer(version.plain)
    assert writer is not None, "every shipped schema is supported"
    state = random.getstate()
    random.seed(version.version)
    try:
        records = list(generate_many(version.plain, 300))
    finally:
        random.setstate(state)
    compared = 0
    for record in records:
        try:
            written = writer(record)
        except Fallback:
            continue  # e.g. a random int out of the table; fastavro handles those
        assert written == fastavro_bytes(version.plain, record)
        compared += 1
    assert compared >= 200


def test_the_prefix_is_written_first() -> None:
    schema = CATALOG.latest(SIGNALS.value_record).plain
    writer = compile_writer(schema, prefix=b"\xc3\x01" + bytes(8))
    record = {
        "event_id": "e",
        "session_id": "s",
        "interaction_id": None,
        "event_time": -5,
        "kind": "retried",
        "source": "client",
        "detail": "x" * 300,
    }
    assert writer is not None
    data = writer(record)
    assert data[:HEADER_SIZE] == b"\xc3\x01" + bytes(8)
    assert data[HEADER_SIZE:] == fastavro_bytes(schema, record)


def interaction(**changes: Any) -> dict[str, Any]:
    record = {
        "event_id": "e",
        "session_id": "s",
        "turn_index": 1,
        "agent_id": "a",
        "agent_version": "1",
        "model": "m",
        "event_time": 1_767_225_600_000,
        "user_id": None,
        "prompt": "p",
        "response": "r",
        "reasoning": None,
        "tools_used": [{"name": "t", "arguments": "{}", "status": "ok", "latency_ms": 3}],
        "context": {"channel": "web"},
        "latency_ms": 5,
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "cost_usd": 0.5,
        "retry_of": None,
        "attachments": [],
    }
    record.update(changes)
    return record


@pytest.mark.parametrize(
    "changes",
    [
        {"cost_usd": 1},  # an int for a double: fastavro converts it
        {"turn_index": True},  # a bool for an int
        {"turn_index": 2**31},  # out of the int range
        {"tools_used": ({"name": "t", "arguments": "{}", "status": "ok", "latency_ms": 3},)},
        {"tools_used": [{"name": "t", "arguments": "{}", "status": "bogus", "latency_ms": 3}]},
        {"prompt": "x" * 20_000},  # a length beyond the varint table
        {"extra": 1},
        {"prompt": None},
    ],
)
def test_unusual_records_are_declined_and_the_serializer_still_matches_fastavro(
    changes: dict[str, Any],
) -> None:
    serializer = serializer_for(INTERACTIONS)
    writer = compile_writer(serializer.writer.plain)
    assert writer is not None
    record = interaction(**changes)
    with pytest.raises(Exception):  # noqa: B017 - Fallback, KeyError, IndexError...
        writer(record)
    try:
        expected: bytes | None = fastavro_bytes(serializer.writer.plain, record)
        if "extra" in changes:
            expected = None  # strict: the serializer refuses fields the schema lacks
    except Exception:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            serializer.encode(record)
    else:
        assert serializer.encode(record)[HEADER_SIZE:] == expected


def test_a_missing_field_with_a_default_goes_to_fastavro() -> None:
    serializer = serializer_for(INTERACTIONS)
    record = interaction()
    del record["retry_of"]
    decoded = serializer.decode(serializer.encode(record))
    assert decoded == {**record, "retry_of": None}


def test_unsupported_schemas_compile_to_none() -> None:
    general_union = parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "x", "type": ["int", "string"]}]}
    )
    fixed = parse_schema(
        {
            "type": "record",
            "name": "F",
            "fields": [{"name": "x", "type": {"type": "fixed", "name": "H", "size": 4}}],
        }
    )
    assert compile_writer(general_union) is None
    assert compile_writer(fixed) is None


def test_longs_at_every_varint_length_are_written_as_fastavro_writes_them() -> None:
    """The table-driven varints (up to 42 bits) and the loop beyond, at each length's edges."""
    writer = compile_writer(
        {"type": "record", "name": "L", "fields": [{"name": "v", "type": "long"}]}
    )
    assert writer is not None
    edges = [
        sign * 2**bits + delta for bits in range(64) for sign in (1, -1) for delta in (-1, 0, 1)
    ]
    values = [v for v in edges if -(2**63) <= v < 2**63] + [1_767_225_600_000, -1_767_225_600_000]
    for value in values:
        assert writer({"v": value}) == fastavro_bytes({"type": "long"}, value), value
