"""The prefix reader agrees with fastavro on every field it reads, and never reads past the end."""

import contextlib

import pytest

from producers.traffic import TrafficConfig, generate_traffic
from schemas import serializer_for
from schemas.catalog import default_catalog
from schemas.topics import INPUT_TOPICS, INTERACTIONS
from sinks.avro_prefix import CorruptPrefixError, PrefixReader
from sinks.raw_events import RAW_DECODED_FIELDS
from tests.unit.sinks.events import START_MS, interaction

READERS = {
    version.fingerprint: PrefixReader.for_version(version, RAW_DECODED_FIELDS)
    for spec in INPUT_TOPICS
    for version in default_catalog().versions(spec.value_record)
}


def test_every_input_schema_version_has_a_prefix_reader() -> None:
    assert READERS and all(reader is not None for reader in READERS.values())


def test_agrees_with_fastavro_on_generated_traffic() -> None:
    traffic = generate_traffic(TrafficConfig(sessions=60, seed=3))
    checked = 0
    for event in traffic.events():
        value = event.value()
        full = serializer_for(event.topic).decode(value)
        read = READERS[value[2:10]].read(value)  # type: ignore[union-attr]
        assert read == {name: full[name] for name in read}
        assert set(read) == {name for name in RAW_DECODED_FIELDS if name in full}
        checked += 1
    assert checked > 200


@pytest.mark.parametrize("user_id", [None, "user-ü"])
def test_truncation_is_an_error_or_a_complete_prefix(user_id: str | None) -> None:
    value = serializer_for(INTERACTIONS).encode(interaction("s-1", 2, user_id, START_MS))
    reader = READERS[value[2:10]]
    assert reader is not None
    expected = reader.read(value)
    assert expected["user_id"] == user_id and expected["event_time"] == START_MS
    for cut in range(10, len(value)):
        with contextlib.suppress(CorruptPrefixError):
            assert reader.read(value[:cut]) == expected


def test_impossible_values_are_corrupt() -> None:
    value = bytearray(serializer_for(INTERACTIONS).encode(interaction("s", 0, "u", START_MS)))
    value[10] = 0x01  # event_id length -1
    reader = READERS[bytes(value[2:10])]
    assert reader is not None
    with pytest.raises(CorruptPrefixError):
        reader.read(bytes(value))
    value[10] = 0xFE  # a varint that never ends within the body
    with pytest.raises(CorruptPrefixError):
        reader.read(bytes(value[:12]))
