"""Kafka copies of an erased user's messages: the last one per topic plus its retention."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from sinks.erasure_copies import kafka_copies, last_message_by_topic

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_last_message_per_topic_sets_the_end_of_retention() -> None:
    rows = pa.table(
        {
            "kafka_topic": ["agent.interactions.v1.ns", "agent.interactions.v1.ns", "x.unknown"],
            "kafka_timestamp": pa.array(
                [T0, T0 + timedelta(hours=1), T0], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    dead = {"agent.deadletter.v1": T0}
    copies = kafka_copies([last_message_by_topic(rows), dead])
    assert [(c.topic, c.last_message_at, c.retained_until) for c in copies] == [
        ("agent.deadletter.v1", T0, T0 + timedelta(days=30)),
        ("agent.interactions.v1.ns", T0 + timedelta(hours=1), T0 + timedelta(days=7, hours=1)),
        ("x.unknown", T0, None),
    ]


def test_no_rows_no_copies() -> None:
    empty = pa.table(
        {
            "kafka_topic": pa.array([], pa.string()),
            "kafka_timestamp": pa.array([], pa.timestamp("us", tz="UTC")),
        }
    )
    assert kafka_copies([last_message_by_topic(empty)]) == []
