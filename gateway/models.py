"""The shapes the gateway reads and answers, as typed dicts: the OpenAPI document is made from them.

Requests are the SDK's own keyword-argument types (`producers.records.InteractionFields`...): the
same builders read them (`gateway.contract`), so the document cannot drift from what is checked.
"""

from typing import Literal, NotRequired

from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

from producers.records import FeedbackFields, InteractionFields, SignalFields

__all__ = [
    "AcceptedEvent",
    "BatchAnswer",
    "ErrorAnswer",
    "FeedbackFields",
    "FieldError",
    "InteractionFields",
    "RejectedEvent",
    "SignalFields",
    "UnavailableEvent",
]


class FieldError(TypedDict):
    """What is wrong with one field (`field` is null when the event as a whole is wrong)."""

    field: str | None
    message: str


class AcceptedEvent(TypedDict):
    """Stored: in Kafka, or in the gateway's durable spool (replayed to Kafka later)."""

    index: int
    event_id: str
    stored: Literal["kafka", "spool"]


class RejectedEvent(TypedDict):
    """Refused by the contract checks; not stored. Fix and send again."""

    index: int
    event_id: NotRequired[str | None]
    errors: list[FieldError]


class UnavailableEvent(TypedDict):
    """Valid but not stored (Kafka down and the spool full): send again after Retry-After."""

    index: int
    event_id: str


class BatchAnswer(TypedDict):
    """Per event of the request (by its index in the array): accepted, rejected or unavailable.
    202 when every event is accepted, 400 when some are rejected (the others are accepted all
    the same), 503 when some are unavailable."""

    accepted: list[AcceptedEvent]
    rejected: list[RejectedEvent]
    unavailable: list[UnavailableEvent]


class ErrorAnswer(TypedDict):
    """A request refused as a whole (401, 408, 413, 415, 429, 400 for a body that is not JSON)."""

    error: str
