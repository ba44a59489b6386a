"""The sink's batch path without a broker: routing, skipping, dead letters, commit order."""

from pathlib import Path

import pytest
from deltalake import DeltaTable
from prometheus_client import CollectorRegistry

from schemas import serializer_for
from schemas.topics import ENRICHED, INTERACTIONS
from sinks import DeltaSink, SinkSettings
from sinks.telemetry import SinkTelemetry
from tests.unit.sinks.events import START_MS, FakeMessage, enriched, interaction


@pytest.fixture()
def sink(tmp_path: Path) -> DeltaSink:
    settings = SinkSettings(lake_uri=str(tmp_path), sink_name="unit")
    return DeltaSink(settings, telemetry=SinkTelemetry(CollectorRegistry()))


def rows(tmp_path: Path, table: str) -> list[dict]:
    return DeltaTable(f"{tmp_path}/{table}").to_pyarrow_table().to_pylist()


def test_a_batch_goes_to_its_tables_and_bad_records_to_dead_letters(
    sink: DeltaSink, tmp_path: Path
) -> None:
    turn = serializer_for(INTERACTIONS).encode(interaction("s", 0, "u", START_MS))
    good = serializer_for(ENRICHED).encode(enriched("s", 0, "u", START_MS))
    sink._take(
        [
            FakeMessage(turn, INTERACTIONS.name, 0, 0),
            FakeMessage(b"junk", INTERACTIONS.name, 0, 1),
            FakeMessage(good, ENRICHED.name, 1, 10),
            FakeMessage(b"junk", ENRICHED.name, 1, 11),
            FakeMessage(b"junk", ENRICHED.name, 2, 5),  # a partition with only a dead letter
        ]
    )
    assert sink.batch.due() is False and sink.batch.messages == 5
    results = sink.flush()
    assert list(results) == ["dead_letters", "enriched_interactions", "raw_events"]
    assert len(rows(tmp_path, "raw_events")) == 2
    assert [r["kafka_offset"] for r in rows(tmp_path, "enriched_interactions")] == [10]
    dead = rows(tmp_path, "dead_letters")
    assert sorted((r["source_partition"], r["source_offset"]) for r in dead) == [(1, 11), (2, 5)]
    enriched_table = sink.writers["enriched_interactions"]
    # Partition 2 of the enriched topic had no row for its table, yet its offset is recorded.
    assert enriched_table.committed_offset(ENRICHED.name, 2) == 5
    assert sink.writers["dead_letters"].committed_offset(ENRICHED.name, 1) == 11
    assert sink.telemetry.rows_committed.labels("raw_events")._value.get() == 2
    assert sink.telemetry.dead_letters.labels("undecodable")._value.get() == 2


def test_offsets_already_in_the_lake_are_skipped(sink: DeltaSink, tmp_path: Path) -> None:
    value = serializer_for(INTERACTIONS).encode(interaction("s", 0, "u", START_MS))
    sink._take([FakeMessage(value, INTERACTIONS.name, 0, o) for o in range(3)])
    sink.flush()
    # What a restart does on assignment: the floor comes from the Delta log.
    sink.floors = {(INTERACTIONS.name, 0): sink.writers["raw_events"].committed_offset(
        INTERACTIONS.name, 0
    )}  # fmt: skip
    sink._take([FakeMessage(value, INTERACTIONS.name, 0, o) for o in range(5)])
    assert sink.stats.skipped == 3
    sink.flush()
    assert sorted(r["kafka_offset"] for r in rows(tmp_path, "raw_events")) == [0, 1, 2, 3, 4]
