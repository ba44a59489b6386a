"""Decoded tables: records become typed rows; what cannot convert becomes a dead letter."""

import datetime as dt
from typing import Any

import pytest

from schemas import serializer_for
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, QUALITY_METRICS
from schemas.topics import ENRICHED, METRICS
from sinks.dead_letters import DeadLetterFactory
from sinks.decoded import DecodedConverter
from tests.unit.sinks.events import START_MS, FakeMessage, enriched, metric


@pytest.fixture()
def factory() -> DeadLetterFactory:
    return DeadLetterFactory(max_original_bytes=16)


def test_enriched_records_become_rows_with_lineage(factory: DeadLetterFactory) -> None:
    record = enriched("s-1", 0, "user-1", START_MS + 86_400_000)
    value = serializer_for(ENRICHED).encode(record)
    converter = DecodedConverter(ENRICHED_INTERACTIONS, factory)
    batch = converter.convert([FakeMessage(value, ENRICHED.name, 3, 11, b"s-1")])
    assert batch.dead_letters == []
    assert batch.rows.schema == ENRICHED_INTERACTIONS.arrow_schema()
    row = batch.rows.to_pylist()[0]
    assert row["event_id"] == record["event_id"]
    assert row["context"] == [("channel", "web"), ("locale", "en-GB")]
    assert row["feedback"][0]["rating"] == 4
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
        ENRICHED.name,
        3,
        11,
    )
    assert row["event_date"] == dt.date(2026, 1, 2)


def test_undecodable_messages_become_dead_letters_and_the_rest_converts(
    factory: DeadLetterFactory,
) -> None:
    good = serializer_for(METRICS).encode(metric("1.0", START_MS, 1))
    bad = b"\x00" * 40
    converter = DecodedConverter(QUALITY_METRICS, factory)
    batch = converter.convert(
        [
            FakeMessage(good, METRICS.name, 0, 5),
            FakeMessage(bad, METRICS.name, 0, 6, b"k"),
            FakeMessage(None, METRICS.name, 0, 7),
        ]
    )
    assert batch.rows.num_rows == 1
    first, second = batch.dead_letters
    assert first["reason"] == "undecodable"
    assert (first["source_topic"], first["source_offset"], first["kafka_offset"]) == (
        METRICS.name,
        6,
        6,
    )
    assert first["original"] == bad[:16] and first["truncated"] and first["original_size"] == 40
    assert first["detected_by"] == "sink" and first["key"] == b"k"
    assert second["source_offset"] == 7
    table = factory.to_arrow(batch.dead_letters)
    assert table.schema == DEAD_LETTERS.arrow_schema()


def test_rows_that_fail_arrow_conversion_are_isolated(
    factory: DeadLetterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    converter = DecodedConverter(QUALITY_METRICS, factory)
    real_decode = converter.serializer.decode

    def decode(value: bytes) -> dict[str, Any]:
        row = real_decode(value)
        if row["update_seq"] == 2:
            row["interactions"] = "not a number"  # schema drift the contract cannot hold
        return row

    monkeypatch.setattr(converter.serializer, "decode", decode)
    messages = [
        FakeMessage(
            serializer_for(METRICS).encode(metric("1.0", START_MS, seq)), METRICS.name, 0, seq
        )
        for seq in (1, 2, 3)
    ]
    batch = converter.convert(messages)
    assert batch.rows["update_seq"].to_pylist() == [1, 3]
    (failure,) = batch.dead_letters
    assert failure["reason"] == "conversion_failed" and failure["source_offset"] == 2
