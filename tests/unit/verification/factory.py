"""Builders of input events (decoded records with Kafka coordinates) for the reference's tests."""

import uuid
from typing import Any

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, on a minute boundary
TOPICS = {
    "interaction": "agent.interactions.v1",
    "feedback": "agent.feedback.v1",
    "signal": "agent.signals.v1",
}


class Events:
    """Makes the events of one or more sessions, each at `T0 + at_ms` unless `time` is given."""

    def __init__(self) -> None:
        self._count = 0
        self.events: list[dict[str, Any]] = []

    def _next_id(self) -> str:
        self._count += 1
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"event-{self._count}"))

    def _id_from(self, fields: dict[str, Any]) -> str:
        return str(fields.pop("event_id")) if "event_id" in fields else self._next_id()

    def _add(self, kind: str, record: dict[str, Any], **meta: Any) -> dict[str, Any]:
        event = {
            "kind": kind,
            "record": record,
            "topic": TOPICS[kind],
            "partition": 0,
            "offset": len(self.events),
            "timestamp": meta.pop("timestamp", record["event_time"]),
            **meta,
        }
        self.events.append(event)
        return record

    def turn(self, session: str, at_ms: int, **fields: Any) -> dict[str, Any]:
        meta = {k: fields.pop(k) for k in ("timestamp", "key") if k in fields}
        record = {
            "event_id": self._id_from(fields),
            "session_id": session,
            "turn_index": 0,
            "agent_id": "bot",
            "agent_version": "1.0",
            "model": "m",
            "event_time": T0 + at_ms,
            "user_id": "u-1",
            "prompt": "question",
            "response": "answer",
            "reasoning": None,
            "tools_used": [],
            "context": {},
            "latency_ms": 100,
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "cost_usd": 0.001,
            "retry_of": None,
            **fields,
        }
        return self._add("interaction", record, **meta)

    def feedback(self, session: str, at_ms: int, **fields: Any) -> dict[str, Any]:
        meta = {k: fields.pop(k) for k in ("timestamp", "key") if k in fields}
        record = {
            "event_id": self._id_from(fields),
            "session_id": session,
            "interaction_id": None,
            "event_time": T0 + at_ms,
            "kind": "thumbs",
            "thumbs_up": True,
            "rating": None,
            "correction": None,
            "comment": None,
            "source": "end_user",
            "rater_id": None,
            **fields,
        }
        return self._add("feedback", record, **meta)

    def signal(self, session: str, at_ms: int, kind: str, **fields: Any) -> dict[str, Any]:
        meta = {k: fields.pop(k) for k in ("timestamp", "key") if k in fields}
        record = {
            "event_id": self._id_from(fields),
            "session_id": session,
            "interaction_id": None,
            "event_time": T0 + at_ms,
            "kind": kind,
            "source": "agent",
            "detail": None,
            **fields,
        }
        return self._add("signal", record, **meta)
