"""The SDK's contract, applied to events that arrive as JSON: the gateway refuses what the SDK does.

A JSON object is the keyword arguments of `log_interaction` / `log_feedback` / `log_signal`: it
goes through the SDK's own builders (`producers.records`), contract checks (`producers.checks`),
clock check and Avro serializer, in the same order as `FeedbackClient`, so an event the SDK would
refuse is refused here with the same message and field. The only JSON-specific step: an
`event_time` may also be RFC 3339 text with an offset (JSON has no datetime), read as the aware
datetime the SDK accepts; naive text is refused as a naive datetime is.
"""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from producers.checks import checker_for
from producers.client import ProducerTopics
from producers.records import build_feedback, build_interaction, build_signal
from schemas.exceptions import InvalidRecordError
from schemas.serializer import SingleObjectSerializer, serializer_for
from schemas.topics import TopicSpec

__all__ = ["EVENT_KINDS", "EventContract", "EventKind", "PreparedEvent"]

EventKind = Literal["interaction", "feedback", "signal"]
EVENT_KINDS: tuple[EventKind, ...] = ("interaction", "feedback", "signal")

_BUILDERS: dict[EventKind, Callable[..., dict[str, Any]]] = {
    "interaction": build_interaction,
    "feedback": build_feedback,
    "signal": build_signal,
}


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """A checked, encoded event, ready for Kafka (or the spool)."""

    topic: str
    key: bytes
    value: bytes
    event_id: str


class EventContract:
    """Build, check and encode events exactly as `FeedbackClient` does before it sends."""

    def __init__(
        self,
        topics: ProducerTopics,
        *,
        max_text_bytes: int,
        max_event_bytes: int,
        max_future_skew_s: float,
    ) -> None:
        self._topics: dict[EventKind, TopicSpec] = {
            "interaction": topics.interactions,
            "feedback": topics.feedback,
            "signal": topics.signals,
        }
        self._serializers: dict[EventKind, SingleObjectSerializer] = {
            kind: serializer_for(spec) for kind, spec in self._topics.items()
        }
        self._checks = {kind: checker_for(spec.value_record) for kind, spec in self._topics.items()}
        self._max_text_bytes = max_text_bytes
        self._max_event_bytes = max_event_bytes
        self._max_future_skew_ms = int(max_future_skew_s * 1000)

    def topic(self, kind: EventKind) -> TopicSpec:
        return self._topics[kind]

    def prepare(self, kind: EventKind, fields: Any) -> PreparedEvent:
        """The encoded event; raises InvalidRecordError (with `.field`) for a bad one."""
        if not isinstance(fields, Mapping):
            raise InvalidRecordError(f"a {kind} must be a JSON object, got {type(fields).__name__}")
        record = self.build(kind, fields)
        self._checks[kind](record, self._max_text_bytes)
        self._check_clock(record)
        value = self._serializers[kind].encode(record)
        if len(value) > self._max_event_bytes:
            raise InvalidRecordError(
                f"the encoded event is {len(value)} bytes, above the limit of "
                f"{self._max_event_bytes} (FEEDBACK_GATEWAY_MAX_EVENT_BYTES)"
            )
        return PreparedEvent(
            self._topics[kind].name,
            record["session_id"].encode("utf-8"),
            value,
            str(record["event_id"]),
        )

    def build(self, kind: EventKind, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The SDK builder's record; a missing or unknown field is named as the SDK names it."""
        arguments = dict(fields)
        if type(arguments.get("event_time")) is str:
            arguments["event_time"] = _rfc3339(arguments["event_time"])
        try:
            return _BUILDERS[kind](**arguments)
        except TypeError as exc:
            named = re.search(r"'(\w+)'", str(exc))
            raise InvalidRecordError(
                f"{self._topics[kind].value_record}: {exc}", named.group(1) if named else None
            ) from None

    def _check_clock(self, record: Mapping[str, Any]) -> None:
        ahead = record["event_time"] - time.time_ns() // 1_000_000
        if ahead > self._max_future_skew_ms:
            raise InvalidRecordError(
                f"event_time={record['event_time']} is {ahead} ms ahead of the gateway's clock; "
                f"at most {self._max_future_skew_ms} ms allowed",
                "event_time",
            )


def _rfc3339(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecordError(
            f"event_time={text!r} is neither epoch milliseconds nor RFC 3339 text "
            "(e.g. 2026-01-31T12:00:00Z)",
            "event_time",
        ) from None
