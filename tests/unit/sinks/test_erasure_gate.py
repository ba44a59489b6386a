"""Rows of an erased user that reach the sink after `lake erase` are never written (real Delta
tables in a temporary folder, the real erasure and its ledger; messages stand in for Kafka's)."""

from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from prometheus_client import CollectorRegistry

from schemas import serializer_for
from schemas.topics import DEADLETTER, ENRICHED, FEEDBACK, INTERACTIONS, TopicSpec
from sinks import DeltaSink, SinkSettings
from sinks.erasure import erase_user
from sinks.lake import Lake
from sinks.telemetry import SinkTelemetry
from tests.unit.sinks.events import START_MS, FakeMessage, dead_letter, enriched, feedback
from tests.unit.sinks.events import interaction as turn

ERASED, NEIGHBOUR = "u-42", "u-420"
S_ERASED, S_NEIGHBOUR = "s-42-a", "s-420-a"


class Topics:
    """Builds the sink's messages, one offset after another per topic."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def message(self, topic: TopicSpec, value: bytes, key: str) -> FakeMessage:
        offset = self.offsets.get(topic.name, -1) + 1
        self.offsets[topic.name] = offset
        return FakeMessage(value, topic.name, 0, offset, key.encode())

    def record(self, topic: TopicSpec, record: dict[str, Any]) -> FakeMessage:
        key = record.get("session_id", "dead letter")  # the dead-letter topic has its own key
        return self.message(topic, serializer_for(topic).encode(record), key)


@pytest.fixture()
def sink(tmp_path: Path) -> DeltaSink:
    settings = SinkSettings(lake_uri=str(tmp_path), sink_name="unit")
    return DeltaSink(settings, telemetry=SinkTelemetry(CollectorRegistry()))


def _rated_by(record: dict[str, Any], rater: str | None) -> dict[str, Any]:
    return {**record, "rater_id": rater, "source": "human_reviewer" if rater else "end_user"}


def _enriched_rated_by(record: dict[str, Any], rater: str) -> dict[str, Any]:
    return {**record, "feedback": [{**record["feedback"][0], "rater_id": rater}]}


def _table(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    return DeltaTable(f"{tmp_path}/{name}").to_pyarrow_table().to_pylist()


def test_an_erased_users_rows_arriving_after_the_erasure_are_not_written(
    sink: DeltaSink, tmp_path: Path
) -> None:
    topics = Topics()
    sink._take(
        [
            topics.record(INTERACTIONS, turn(S_ERASED, 0, ERASED, START_MS)),
            topics.record(INTERACTIONS, turn(S_NEIGHBOUR, 0, NEIGHBOUR, START_MS)),
        ]
    )
    sink.flush()
    report = erase_user(Lake(str(tmp_path)), ERASED)
    assert report.rows_deleted == 1

    erased_turn = turn(S_ERASED, 0, ERASED, START_MS)
    neighbour_turn = turn(S_NEIGHBOUR, 1, NEIGHBOUR, START_MS)
    barred = [
        topics.record(INTERACTIONS, turn(S_ERASED, 1, ERASED, START_MS)),  # the user again
        topics.record(INTERACTIONS, turn("s-42-b", 0, ERASED, START_MS)),  # a new session
        # A reviewer's late thumbs on the erased session: it names nobody.
        topics.record(FEEDBACK, _rated_by(feedback(S_ERASED, None, START_MS), "rev-1")),
        # Feedback the erased user gave in another user's session.
        topics.record(FEEDBACK, _rated_by(feedback(S_NEIGHBOUR, None, START_MS), ERASED)),
        topics.message(INTERACTIONS, b"junk", S_ERASED),  # undecodable, keyed by the session
        # The processor's new revision of the erased user's turn, after that late thumbs.
        topics.record(ENRICHED, enriched(S_ERASED, 0, ERASED, START_MS)),
        # Another user's turn holding the erased user's rating.
        topics.record(
            ENRICHED, _enriched_rated_by(enriched(S_NEIGHBOUR, 0, NEIGHBOUR, START_MS), ERASED)
        ),
        topics.record(
            DEADLETTER,
            dead_letter(INTERACTIONS.name, 9, serializer_for(INTERACTIONS).encode(erased_turn)),
        ),
    ]
    kept = [
        topics.record(INTERACTIONS, neighbour_turn),
        # A guest's turn in the erased user's session is the guest's.
        topics.record(INTERACTIONS, turn(S_ERASED, 2, "u-7", START_MS)),
        topics.record(INTERACTIONS, turn("s-4-a", 0, "u-4", START_MS)),  # a prefix of the id
        topics.record(FEEDBACK, _rated_by(feedback(S_NEIGHBOUR, None, START_MS), "rev-1")),
        topics.message(INTERACTIONS, b"junk", S_NEIGHBOUR),
        topics.record(ENRICHED, enriched(S_NEIGHBOUR, 1, NEIGHBOUR, START_MS)),
        topics.record(
            DEADLETTER,
            dead_letter(INTERACTIONS.name, 10, serializer_for(INTERACTIONS).encode(neighbour_turn)),
        ),
    ]
    sink._take(barred + kept)
    sink.flush()

    raw = _table(tmp_path, "raw_events")
    decoded = [(r["session_id"], r["user_id"] or "") for r in raw if r["decode_error"] is None]
    assert sorted(decoded) == [
        ("s-4-a", "u-4"),
        (S_ERASED, "u-7"),
        (S_NEIGHBOUR, ""),  # the reviewer's thumbs
        (S_NEIGHBOUR, NEIGHBOUR),  # the first flush
        (S_NEIGHBOUR, NEIGHBOUR),
    ]
    assert [r["key"] for r in raw if r["decode_error"] is not None] == [S_NEIGHBOUR.encode()]
    enriched_rows = _table(tmp_path, "enriched_interactions")
    assert [(r["session_id"], r["turn_index"]) for r in enriched_rows] == [(S_NEIGHBOUR, 1)]
    dead = _table(tmp_path, "dead_letters")
    assert [r["original"] for r in dead] == [serializer_for(INTERACTIONS).encode(neighbour_turn)]
    assert dict(sink.stats.erased) == {
        "dead_letters": 1,
        "enriched_interactions": 2,
        "raw_events": 5,
    }
    assert sink.telemetry.erased_rows.labels("raw_events")._value.get() == 5
    # The barred messages are done with: their offsets are in the log, a restart skips them.
    for topic, last in topics.offsets.items():
        writer = sink.writers[sink.routes[topic].table.name]
        assert writer.committed_offset(topic, 0) == last


def test_without_a_ledger_nothing_is_barred(sink: DeltaSink, tmp_path: Path) -> None:
    topics = Topics()
    sink._take([topics.record(INTERACTIONS, turn(S_ERASED, 0, ERASED, START_MS))])
    sink.flush()
    assert len(_table(tmp_path, "raw_events")) == 1
    assert not sink.stats.erased
