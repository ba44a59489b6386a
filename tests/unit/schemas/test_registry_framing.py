"""Both wire formats at once: the Confluent framing (magic byte 0 + schema id + the same Avro body)
next to single-object encoding, the format chosen per namespace, and the content-type header.

Schema ids are resolved here by an in-memory id table (the `SchemaIdResolver` seam); the registry
itself is exercised in tests/integration/test_schema_registry.py.
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.catalog import SchemaVersion, default_catalog
from schemas.exceptions import UndecodableError, WrongSchemaError
from schemas.registry import subject_of
from schemas.registry_errors import RegistryUnavailableError, UnknownSchemaIdError
from schemas.registry_settings import WireSettings, namespace_of, writes_confluent
from schemas.serializer import (
    CONTENT_TYPES,
    HEADER_SIZE,
    SingleObjectSerializer,
    content_type_headers,
    serializer_for,
)
from schemas.topics import FEEDBACK, INTERACTIONS
from sinks.raw_events import RawEventConverter
from tests.unit.sinks.events import START_MS, FakeMessage, feedback, interaction

CATALOG = default_catalog()


class IdTable:
    """Schema id -> catalog version, as a registry would answer after registration."""

    def __init__(self, versions: dict[int, SchemaVersion]) -> None:
        self.versions = versions

    def version_for_id(self, schema_id: int) -> SchemaVersion:
        try:
            return self.versions[schema_id]
        except KeyError:
            raise UnknownSchemaIdError(f"schema id {schema_id} is unknown") from None


def confluent(single_object: bytes, schema_id: int) -> bytes:
    """The same message in the Confluent framing."""
    return b"\x00" + schema_id.to_bytes(4, "big") + single_object[HEADER_SIZE:]


@pytest.fixture(autouse=True)
def _no_wire_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FEEDBACK_WIRE_FORMAT",
        "FEEDBACK_WIRE_NAMESPACE_FORMATS",
        "FEEDBACK_WIRE_REGISTRY_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_both_framings_decode_to_the_same_record() -> None:
    writer = SingleObjectSerializer(INTERACTIONS.value_record)
    newest = CATALOG.latest(INTERACTIONS.value_record)
    reader = SingleObjectSerializer(INTERACTIONS.value_record, resolver=IdTable({7: newest}))
    record = interaction("s-1", 0, "u-1", START_MS)
    single = writer.encode(record)
    assert reader.decode(single) == reader.decode(confluent(single, 7)) == writer.decode(single)
    decoded, version = reader.decode_with_writer(confluent(single, 7))
    assert version is newest and decoded["event_id"] == record["event_id"]


@given(st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=0, max_value=20))
def test_any_schema_id_and_any_older_version_resolve(schema_id: int, turn: int) -> None:
    versions = CATALOG.versions(INTERACTIONS.value_record)
    oldest = versions[0]
    old_writer = SingleObjectSerializer(INTERACTIONS.value_record, writer_version=oldest.version)
    record: dict[str, Any] = interaction("s-2", turn, None, START_MS)
    record = {k: v for k, v in record.items() if k in oldest.field_names}
    reader = SingleObjectSerializer(
        INTERACTIONS.value_record, resolver=IdTable({schema_id: oldest})
    )
    message = confluent(old_writer.encode(record), schema_id)
    assert reader.decode(message) == reader.decode(old_writer.encode(record))


def test_unknown_id_wrong_record_and_no_registry_are_refused() -> None:
    single = SingleObjectSerializer(FEEDBACK.value_record).encode(feedback("s", None, START_MS))
    feedback_v = CATALOG.latest(FEEDBACK.value_record)
    reader = SingleObjectSerializer(INTERACTIONS.value_record, resolver=IdTable({3: feedback_v}))
    with pytest.raises(UnknownSchemaIdError):
        reader.decode(confluent(single, 4))
    with pytest.raises(WrongSchemaError):
        reader.decode(confluent(single, 3))
    without = SingleObjectSerializer(FEEDBACK.value_record)
    with pytest.raises(UndecodableError, match="FEEDBACK_WIRE_REGISTRY_URL"):
        without.decode(confluent(single, 3))
    with pytest.raises(UndecodableError):
        without.decode(b"\x00\x00")  # too short for a schema id and a body


def test_the_content_type_header_names_the_framing() -> None:
    single = SingleObjectSerializer(FEEDBACK.value_record).encode(feedback("s", None, START_MS))
    assert content_type_headers(single) == [
        ("content-type", CONTENT_TYPES["single-object"].encode())
    ]
    assert content_type_headers(confluent(single, 1)) == [
        ("content-type", CONTENT_TYPES["confluent"].encode())
    ]
    assert content_type_headers(b"garbage") is None
    assert content_type_headers(None) is None


def test_the_format_is_chosen_per_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = WireSettings(namespace_formats={"team-a": "confluent"})
    assert writes_confluent(INTERACTIONS.in_namespace("team-a"), settings)
    assert not writes_confluent(INTERACTIONS.in_namespace("team-b"), settings)
    assert not writes_confluent(INTERACTIONS, settings)
    everywhere = WireSettings(format="confluent", namespace_formats={"": "single-object"})
    assert not writes_confluent(INTERACTIONS, everywhere)
    assert writes_confluent(INTERACTIONS.in_namespace("x.y"), everywhere)
    assert namespace_of("agent.interactions.v1.x.y") == "x.y"
    assert namespace_of("agent.interactions.v1") == ""
    assert subject_of("agent.interactions.v1.x") == "agent.interactions.v1.x-value"
    # Without a registry URL a confluent namespace cannot be written: a clear error, not bytes.
    monkeypatch.setenv("FEEDBACK_WIRE_NAMESPACE_FORMATS", '{"team-a": "confluent"}')
    assert type(serializer_for(INTERACTIONS.in_namespace("team-b"))) is SingleObjectSerializer
    with pytest.raises(RegistryUnavailableError, match="FEEDBACK_WIRE_REGISTRY_URL"):
        serializer_for(INTERACTIONS.in_namespace("team-a"))


@pytest.mark.parametrize("validate_bodies", [False, True], ids=["prefix", "validating"])
def test_the_raw_events_table_takes_a_mixed_batch(
    monkeypatch: pytest.MonkeyPatch, validate_bodies: bool
) -> None:
    newest = CATALOG.latest(INTERACTIONS.value_record)
    monkeypatch.setattr("schemas.serializer._default_resolver", lambda: IdTable({11: newest}))
    writer = SingleObjectSerializer(INTERACTIONS.value_record)
    records = [interaction("s-3", turn, "u", START_MS + turn) for turn in range(4)]
    values = [writer.encode(r) for r in records]
    values = [v if i % 2 else confluent(v, 11) for i, v in enumerate(values)]
    messages = [FakeMessage(v, _offset=i) for i, v in enumerate(values)]
    converter = RawEventConverter(
        {INTERACTIONS.name: INTERACTIONS.value_record}, validate_bodies=validate_bodies
    )
    table = converter.convert(messages)
    assert table["decode_error"].to_pylist() == [None] * 4
    assert table["event_id"].to_pylist() == [r["event_id"] for r in records]
    assert set(table["schema_fingerprint"].to_pylist()) == {newest.fingerprint.hex()}
    assert table["value"].to_pylist() == values  # the original bytes, either framing
