"""Enriched records encoded from their interaction message's body: the same bytes as in full."""

import copy
import random
from typing import Any

from fastavro.utils import generate_many

from schemas.extension import ExtensionEncoder, shared_prefix
from schemas.serializer import SingleObjectSerializer, serializer_for
from schemas.topics import ENRICHED, INTERACTIONS

INTERACTION = serializer_for(INTERACTIONS)
ENRICHED_SERIALIZER = serializer_for(ENRICHED)
INTERACTION_FIELDS = INTERACTION.reader.field_names


def _random_enriched(count: int, seed: int) -> list[dict[str, Any]]:
    state = random.getstate()
    random.seed(seed)
    try:
        return list(generate_many(ENRICHED_SERIALIZER.writer.plain, count))
    finally:
        random.setstate(state)


def test_the_enriched_schema_opens_with_every_interaction_field() -> None:
    shared = shared_prefix(INTERACTION.reader.plain, ENRICHED_SERIALIZER.writer.plain)
    assert shared == len(INTERACTION_FIELDS)
    assert ExtensionEncoder(ENRICHED_SERIALIZER, INTERACTION).splices


def test_splicing_the_interaction_body_gives_the_full_encoding() -> None:
    encoder = ExtensionEncoder(ENRICHED_SERIALIZER, INTERACTION)
    for record in _random_enriched(300, seed=11):
        message = INTERACTION.encode({name: record[name] for name in INTERACTION_FIELDS})
        spliced = encoder.encode(record, message)
        assert spliced == ENRICHED_SERIALIZER.encode(record)
        assert ENRICHED_SERIALIZER.decode(spliced) == ENRICHED_SERIALIZER.decode(
            ENRICHED_SERIALIZER.encode(record)
        )


def test_the_body_is_really_copied_from_the_message() -> None:
    """A message whose prompt differs from the record's: the message's prompt goes out (the
    caller promises they are the same; this shows which one is used)."""
    encoder = ExtensionEncoder(ENRICHED_SERIALIZER, INTERACTION)
    [record] = _random_enriched(1, seed=12)
    interaction = {name: record[name] for name in INTERACTION_FIELDS}
    interaction["prompt"] = "the prompt as it was consumed"
    spliced = ENRICHED_SERIALIZER.decode(encoder.encode(record, INTERACTION.encode(interaction)))
    assert spliced["prompt"] == "the prompt as it was consumed"
    assert spliced["reward"] == record["reward"]


def test_an_older_or_missing_message_means_a_full_encoding() -> None:
    encoder = ExtensionEncoder(ENRICHED_SERIALIZER, INTERACTION)
    first = INTERACTION.catalog.versions(INTERACTIONS.value_record)[0]
    assert first.version < INTERACTION.reader.version
    older = SingleObjectSerializer(INTERACTIONS.value_record, writer_version=first.version)
    [record] = _random_enriched(1, seed=13)
    older_message = older.encode({name: record[name] for name in first.field_names})
    full = ENRICHED_SERIALIZER.encode(record)
    assert encoder.encode(record, older_message) == full
    assert encoder.encode(record, None) == full


def test_a_record_the_compiled_writer_declines_is_encoded_in_full() -> None:
    encoder = ExtensionEncoder(ENRICHED_SERIALIZER, INTERACTION)
    [record] = _random_enriched(1, seed=14)
    message = INTERACTION.encode({name: record[name] for name in INTERACTION_FIELDS})
    record["reward_confidence"] = 1  # an int for a double: fastavro writes it, the tail declines
    assert encoder.encode(record, message) == ENRICHED_SERIALIZER.encode(record)


def test_schemas_that_differ_inside_the_shared_fields_do_not_splice() -> None:
    changed = copy.deepcopy(ENRICHED_SERIALIZER.writer.plain)
    changed["fields"][2] = {**changed["fields"][2], "type": "string"}  # turn_index: int -> string
    assert shared_prefix(INTERACTION.reader.plain, changed) == 2
    reordered = copy.deepcopy(ENRICHED_SERIALIZER.writer.plain)
    reordered["fields"][0], reordered["fields"][1] = reordered["fields"][1], reordered["fields"][0]
    assert shared_prefix(INTERACTION.reader.plain, reordered) == 0
