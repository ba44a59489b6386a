"""Input events of the reference: their shape, their order within a session, and the kinds.

An event is a mapping with the decoded Avro `record` and where it came from: `kind`
(`interaction`, `feedback` or `signal`), `topic`, `partition`, `offset`, `timestamp` (the Kafka
timestamp, epoch ms, or None) and optionally `key` (bytes; absent means "equal to the session
id"). The order of a session's events is docs/semantics.md's: event time, then kind rank
(interaction < feedback < non-terminal signal < terminal signal), then event id.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INFERRED_NAMESPACE",
    "TERMINAL_SIGNALS",
    "InputEvent",
    "inferred_abandoned_id",
    "is_inferred_abandoned",
    "kind_rank",
    "to_input_event",
]

TERMINAL_SIGNALS: dict[str, str] = {
    "task_completed": "completed",
    "task_failed": "failed",
    "escalated_to_human": "escalated",
}
# The namespace of the processor's inferred signal ids (a constant of the contract's uuid5).
INFERRED_NAMESPACE = uuid.UUID("5b0d4a52-6c7e-4f0e-9a37-2f1f3c0de001")
_KINDS = ("interaction", "feedback", "signal")


def inferred_abandoned_id(session_id: str, closed_at: int) -> str:
    """Event id of the `abandoned` signal the processor infers for a session closed at
    `closed_at`: one per use of a session id."""
    return str(uuid.uuid5(INFERRED_NAMESPACE, f"{session_id}/abandoned/{closed_at}"))


def is_inferred_abandoned(event_id: str, session_id: str, event_time: int) -> bool:
    """Whether an `abandoned` signal's id is the processor's own: as above, or the session id
    alone (the id until 6 Dec, shared by every use of a session id)."""
    legacy = str(uuid.uuid5(INFERRED_NAMESPACE, f"{session_id}/abandoned"))
    return event_id in (inferred_abandoned_id(session_id, event_time), legacy)


def kind_rank(kind: str, record: Mapping[str, Any]) -> int:
    """Tie-break of events with the same event time: 0 interaction, 1 feedback, 2 non-terminal
    signal, 3 terminal signal."""
    if kind == "interaction":
        return 0
    if kind == "feedback":
        return 1
    return 3 if record.get("kind") in TERMINAL_SIGNALS else 2


@dataclass(frozen=True)
class InputEvent:
    """One decoded input message and its Kafka coordinates."""

    kind: str
    record: Mapping[str, Any]
    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None

    @property
    def event_id(self) -> str:
        return str(self.record.get("event_id") or "")

    @property
    def session_id(self) -> str:
        return str(self.record.get("session_id") or "")

    @property
    def event_time(self) -> int:
        return int(self.record["event_time"])

    def order(self) -> tuple[int, int, str, str, int, int]:
        """The contract's order; Kafka coordinates last, so the first copy of a redelivered
        event is the one read first."""
        return (
            self.event_time,
            kind_rank(self.kind, self.record),
            self.event_id,
            self.topic,
            self.partition,
            self.offset,
        )


def to_input_event(event: Mapping[str, Any]) -> InputEvent:
    """An `InputEvent` from the plain mapping described in the module docstring."""
    kind = event["kind"]
    if kind not in _KINDS:
        raise ValueError(f"event kind must be one of {_KINDS}, got {kind!r}")
    record = event["record"]
    key = event.get("key", str(record.get("session_id") or "").encode())
    return InputEvent(
        kind=kind,
        record=record,
        topic=str(event.get("topic", "")),
        partition=int(event.get("partition", 0)),
        offset=int(event.get("offset", 0)),
        timestamp=event.get("timestamp"),
        key=key,
    )
