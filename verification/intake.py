"""Refusals of decoded events before they reach a session (docs/semantics.md, Intake).

Checked in the contract's table order: `schema_invalid`, then the processor's own inferred
signals are skipped (no dead letter), then `future_event_time`, then `reserved_source`.
"""

from dataclasses import dataclass

from verification.events import InputEvent, is_inferred_abandoned

__all__ = ["SKIP", "IntakeRefusal", "refusal_of", "schema_problem"]

SKIP = "skip"  # the processor's own inferred signal read back: no dead letter, no effect


@dataclass(frozen=True)
class IntakeRefusal:
    """Why an event never reaches a session."""

    reason: str
    message: str


def refusal_of(event: InputEvent, max_future_skew_ms: int) -> IntakeRefusal | str | None:
    """The refusal of an event, `SKIP` for the processor's own signal, or None: accepted."""
    problem = schema_problem(event)
    if problem is not None:
        return IntakeRefusal("schema_invalid", problem)
    record = event.record
    if event.kind == "signal" and record.get("source") == "inferred":
        own = record.get("kind") == "abandoned" and is_inferred_abandoned(
            event.event_id, event.session_id, event.event_time
        )
        if own:
            return SKIP
    if event.timestamp is not None and event.event_time > event.timestamp + max_future_skew_ms:
        return IntakeRefusal(
            "future_event_time",
            f"event_time {event.event_time} is {event.event_time - event.timestamp} ms after "
            f"the record's timestamp {event.timestamp}",
        )
    if event.kind == "signal" and record.get("source") == "inferred":
        return IntakeRefusal("reserved_source", "source 'inferred' is reserved to the processor")
    return None


def schema_problem(event: InputEvent) -> str | None:
    """What makes a decoded event `schema_invalid`, or None."""
    record = event.record
    if not record.get("event_id"):
        return "empty event_id"
    if not record.get("session_id"):
        return "empty session_id"
    if event.key is None or event.key != str(record["session_id"]).encode():
        return "key differs from session_id"
    if event.kind == "feedback":
        rating = record.get("rating")
        if rating is not None and not 1 <= rating <= 5:
            return f"rating {rating} outside 1-5"
        if record.get("kind") == "rating" and rating is None:
            return "rating feedback without a rating"
        if record.get("kind") == "thumbs" and record.get("thumbs_up") is None:
            return "thumbs feedback without thumbs_up"
    if event.kind == "interaction":
        if int(record.get("turn_index") or 0) < 0:
            return "negative turn_index"
        if int(record.get("latency_ms") or 0) < 0:
            return "negative latency_ms"
    return None
