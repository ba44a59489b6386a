"""Attachments arrive in new versions of the interaction, feedback and enriched records: data of
either side stays readable by the other (old readers ignore the list, new ones default it)."""

from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from schemas.catalog import default_catalog
from schemas.compatibility import check_pair
from schemas.serializer import SingleObjectSerializer
from schemas.topics import ENRICHED, FEEDBACK, INTERACTIONS

CATALOG = default_catalog()
PNG = {
    "media_type": "image/png",
    "size_bytes": 68,
    "sha256": "a" * 64,
    "uri": "file:///lake/attachments/s-0/aa/" + "a" * 64,
    "name": "screen.png",
}
TURN: dict[str, Any] = {
    "event_id": "2f1c9a52-6f0e-4a8e-9d43-1b7e0a4f7c11",
    "session_id": "s-1",
    "turn_index": 0,
    "agent_id": "support-bot",
    "agent_version": "1.5.0",
    "model": "m",
    "event_time": 1_767_225_600_000,
    "user_id": "u-1",
    "prompt": "what is on my screen?",
    "response": "a settings page",
    "reasoning": None,
    "tools_used": [],
    "context": {},
    "latency_ms": 5,
    "prompt_tokens": 1,
    "completion_tokens": 1,
    "cost_usd": 0.0,
    "retry_of": None,
    "attachments": [PNG],
}


def _versions(full_name: str) -> tuple[int, int]:
    numbers = [v.version for v in CATALOG.versions(full_name)]
    newest = next(v.version for v in CATALOG.versions(full_name) if "attachments" in v.field_names)
    return numbers[numbers.index(newest) - 1], newest


@pytest.mark.parametrize("topic", [INTERACTIONS, FEEDBACK, ENRICHED], ids=lambda t: t.name)
def test_the_attachment_version_is_fully_compatible_with_the_one_before(topic: Any) -> None:
    older, newer = _versions(topic.value_record)
    pick = {v.version: v for v in CATALOG.versions(topic.value_record)}
    assert check_pair(pick[older], pick[newer], "FULL", samples=128) == []


def test_an_old_reader_decodes_a_turn_with_a_png_attachment_without_the_list() -> None:
    older, newer = _versions(INTERACTIONS.value_record)
    writer = SingleObjectSerializer(INTERACTIONS.value_record, writer_version=newer)
    message = writer.encode(TURN)
    old_schema = {v.version: v for v in CATALOG.versions(INTERACTIONS.value_record)}[older]
    # An older release resolves the writer schema (shipped in the catalog, or from a registry)
    # to its own reader schema: every field it knows, the list ignored.
    body = BytesIO(message[10:])
    decoded = schemaless_reader(body, writer.writer.plain, old_schema.plain)
    assert decoded == {k: v for k, v in TURN.items() if k != "attachments"}
    assert "attachments" not in old_schema.field_names


def test_a_turn_from_an_old_producer_reads_with_no_attachments() -> None:
    older, _ = _versions(INTERACTIONS.value_record)
    old = SingleObjectSerializer(INTERACTIONS.value_record, writer_version=older)
    record = {k: v for k, v in TURN.items() if k != "attachments"}
    decoded = SingleObjectSerializer(INTERACTIONS.value_record).decode(old.encode(record))
    assert decoded == {**record, "attachments": []}


def test_the_enriched_record_still_opens_with_every_interaction_field() -> None:
    """So the processor keeps copying the interaction's encoded body into the enriched one."""
    interaction = CATALOG.latest(INTERACTIONS.value_record).field_names
    enriched = CATALOG.latest(ENRICHED.value_record).field_names
    assert enriched[: len(interaction)] == interaction


def test_the_newest_writer_round_trips_attachments() -> None:
    serializer = SingleObjectSerializer(INTERACTIONS.value_record)
    assert serializer.decode(serializer.encode(TURN))["attachments"] == [PNG]
    buffer = BytesIO()
    schemaless_writer(buffer, serializer.writer.plain, TURN)
    assert buffer.getvalue() == serializer.encode(TURN)[10:]
