"""Test events for the sink's tests: realistic records, encoded with the real serializers."""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from schemas import serializer_for
from schemas.topics import ENRICHED, FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec

__all__ = [
    "FakeMessage",
    "OutgoingEvent",
    "dead_letter",
    "enriched",
    "feedback",
    "interaction",
    "metric",
    "produce",
    "session_events",
    "signal",
]

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class OutgoingEvent:
    """An event to produce: its topic (base spec; tests map it to a unique topic), key, bytes."""

    topic: TopicSpec
    key: bytes | None
    value: bytes


@dataclass
class FakeMessage:
    """Stands in for confluent_kafka.Message in unit tests of the converters."""

    _value: bytes | None
    _topic: str = "agent.interactions.v1"
    _partition: int = 0
    _offset: int = 0
    _key: bytes | None = None
    _timestamp: int = START_MS

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)

    def error(self) -> None:
        return None


def interaction(session_id: str, turn: int, user_id: str | None, t_ms: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "turn_index": turn,
        "agent_id": "support-bot",
        "agent_version": "2.1.0",
        "model": "model-a",
        "event_time": t_ms,
        "user_id": user_id,
        "prompt": f"question {turn} from {user_id}: " + "how do I reset my password? " * 8,
        "response": "Go to settings, then security, then reset. " * 12,
        "reasoning": None,
        "tools_used": [
            {"name": "kb.search", "arguments": '{"q": "reset"}', "status": "ok", "latency_ms": 41}
        ],
        "context": {"channel": "web", "locale": "en-GB"},
        "latency_ms": 850,
        "prompt_tokens": 120,
        "completion_tokens": 240,
        "cost_usd": 0.0031,
        "retry_of": None,
        "attachments": [],
    }


def feedback(session_id: str, interaction_id: str | None, t_ms: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "interaction_id": interaction_id,
        "event_time": t_ms,
        "kind": "thumbs",
        "thumbs_up": True,
        "rating": None,
        "correction": None,
        "comment": None,
        "source": "end_user",
        "rater_id": None,
    }


def signal(session_id: str, kind: str, t_ms: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "interaction_id": None,
        "event_time": t_ms,
        "kind": kind,
        "source": "agent",
        "detail": None,
    }


def session_events(
    sessions: int, turns: int = 3, users: int = 5, start_ms: int = START_MS
) -> Iterator[OutgoingEvent]:
    """`sessions` sessions of `turns` turns, one feedback and one closing signal each.

    Session i belongs to user `user-<i % users>`; events spread over two days of event time so
    tables get more than one date partition.
    """
    encoders = {spec.name: serializer_for(spec) for spec in (INTERACTIONS, FEEDBACK, SIGNALS)}
    for i in range(sessions):
        session_id = f"session-{i:06d}"
        key = session_id.encode()
        t = start_ms + i * 86_400_000 * 2 // max(sessions, 1)
        first_turn = None
        for turn in range(turns):
            record = interaction(session_id, turn, f"user-{i % users}", t + turn * 1000)
            first_turn = first_turn or record["event_id"]
            yield OutgoingEvent(INTERACTIONS, key, encoders[INTERACTIONS.name].encode(record))
        yield OutgoingEvent(
            FEEDBACK, key, encoders[FEEDBACK.name].encode(feedback(session_id, first_turn, t))
        )
        yield OutgoingEvent(
            SIGNALS,
            key,
            encoders[SIGNALS.name].encode(signal(session_id, "task_completed", t + 9000)),
        )


def produce(
    bootstrap_servers: str, events: Iterable[OutgoingEvent], topics: dict[str, TopicSpec]
) -> int:
    """Produce events to the unique topics standing for their registry topics; returns count."""
    producer = Producer(
        {"bootstrap.servers": bootstrap_servers, "linger.ms": 20, "compression.type": "lz4"}
    )
    count = 0
    for event in events:
        while True:
            try:
                producer.produce(topics[event.topic.name].name, event.value, event.key)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} messages not delivered")
    return count


def enriched(session_id: str, turn: int, user_id: str | None, t_ms: int) -> dict[str, Any]:
    """An enriched record of one turn, as the processor would emit it."""
    base = interaction(session_id, turn, user_id, t_ms)
    return {
        **base,
        "revision": 0,
        "session_outcome": "completed",
        "session_closed_at": t_ms + 60_000,
        "session_turns": turn + 1,
        "feedback": [
            {
                "event_id": str(uuid.uuid4()),
                "event_time": t_ms + 5_000,
                "kind": "rating",
                "thumbs_up": None,
                "rating": 4,
                "correction": None,
                "comment": None,
                "source": "end_user",
                "rater_id": None,
                "session_level": False,
            }
        ],
        "signals": [
            {
                "event_id": str(uuid.uuid4()),
                "event_time": t_ms + 60_000,
                "kind": "task_completed",
                "source": "agent",
                "interaction_id": None,
            }
        ],
        **_labels(),
    }


def _labels() -> dict[str, Any]:
    """Fill the enriched contract's remaining fields (labels) with their defaults or zeros."""
    from schemas.catalog import default_catalog

    fields = default_catalog().latest(ENRICHED.value_record).source["fields"]
    known = set(interaction("s", 0, None, 0)) | {
        "revision",
        "session_outcome",
        "session_closed_at",
        "session_turns",
        "feedback",
        "signals",
    }
    out: dict[str, Any] = {}
    for field in fields:
        if field["name"] in known:
            continue
        if "default" in field:
            out[field["name"]] = field["default"]
            continue
        kind = field["type"]
        kind = kind.get("type") if isinstance(kind, dict) else kind
        if kind == "enum":
            out[field["name"]] = field["type"].get("default", field["type"]["symbols"][0])
        else:
            out[field["name"]] = {"double": 0.5, "int": 1, "long": 1, "boolean": True}.get(
                kind, "x"
            )
    return out


def metric(agent_version: str, window_start: int, seq: int) -> dict[str, Any]:
    return {
        "agent_id": "support-bot",
        "agent_version": agent_version,
        "window_start": window_start,
        "window_end": window_start + 60_000,
        "is_final": False,
        "update_seq": seq,
        "interactions": 10,
        "sessions": 3,
        "sessions_completed": 2,
        "sessions_failed": 1,
        "sessions_abandoned": 0,
        "sessions_escalated": 0,
        "completion_rate": 2 / 3,
        "abandonment_rate": 0.0,
        "failure_rate": 1 / 3,
        "thumbs_up": 1,
        "thumbs_down": 0,
        "thumbs_up_rate": 1.0,
        "ratings": 0,
        "mean_rating": None,
        "corrections": 0,
        "correction_rate": 0.0,
        "interactions_with_feedback": 1,
        "feedback_coverage": 0.1,
        "latency_p50_ms": 800.0,
        "latency_p95_ms": 1500.0,
        "tool_calls": 4,
        "tool_errors": 0,
        "tool_error_rate": 0.0,
        "cost_usd": 0.03,
    }


def dead_letter(source_topic: str, offset: int, original: bytes) -> dict[str, Any]:
    return {
        "reason": "undecodable",
        "message": "not an Avro single-object message",
        "source_topic": source_topic,
        "source_partition": 0,
        "source_offset": offset,
        "source_timestamp": START_MS,
        "key": b"session-x",
        "original": original,
        "original_size": len(original),
        "truncated": False,
        "detected_by": "processor",
        "detected_at": START_MS + 1000,
    }
