"""Turning raw input messages into events, or into dead letters with a reason code.

Checks, in order: value larger than the configured bound (`oversized`), missing or empty key
(`missing_key`), the wire format and schema (`undecodable`, `unknown_fingerprint`,
`wrong_schema`, from `schemas.exceptions`), then the meaning (`schema_invalid`: empty ids,
key different from session_id, rating outside 1-5, negative turn index or latency), then time
(`future_event_time`: more than `max_future_skew` after the message was sent, so that a broken
clock never moves a watermark) and the reserved signal source (`reserved_source`).
The processor's own inferred `abandoned` signals, read back from the signals topic, are ignored;
any other signal with source `inferred` is refused (docs/semantics.md).
"""

from dataclasses import dataclass
from typing import Any

from schemas.exceptions import ContractError
from schemas.serializer import SingleObjectSerializer, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec
from stream_processors.avro_readers import READERS
from stream_processors.sessions import is_own_abandoned_signal

__all__ = ["EventDecoder", "Rejection", "dead_letter_record"]

_KINDS = {
    INTERACTIONS.value_record: "interaction",
    FEEDBACK.value_record: "feedback",
    SIGNALS.value_record: "signal",
}


@dataclass(frozen=True)
class Rejection:
    """Why a message cannot be used (a dead-letter reason code and a message for people)."""

    reason: str
    message: str


class EventDecoder:
    """Decodes and checks messages of the input topics (in one namespace)."""

    def __init__(
        self, topics: list[TopicSpec], max_value_bytes: int, max_future_skew_ms: int = 300_000
    ) -> None:
        self.max_value_bytes = max_value_bytes
        self.max_future_skew_ms = max_future_skew_ms
        self._serializers: dict[str, SingleObjectSerializer] = {
            spec.name: serializer_for(spec) for spec in topics
        }
        for serializer in self._serializers.values():
            # The same readers, compiled with the join logic when built (docs/compiled.md).
            serializer.install_reader(READERS)
        self._kinds = {spec.name: _KINDS[spec.value_record] for spec in topics}

    def kind_of(self, topic: str) -> str:
        return self._kinds[topic]

    def decode(
        self, topic: str, key: bytes | None, value: bytes | None, sent_at: int | None = None
    ) -> dict[str, Any] | Rejection | None:
        """The event record, a Rejection, or None for a message to ignore.

        `sent_at` (epoch ms): when the message was sent, i.e. its Kafka timestamp, or the
        processor's clock if that is earlier (a producer's clock can be broken too); None skips
        the future check. The earlier of the two keeps a replay's decision the same as live.
        """
        if value is not None and len(value) > self.max_value_bytes:
            return Rejection(
                "oversized", f"value of {len(value)} bytes exceeds {self.max_value_bytes}"
            )
        if not key:
            return Rejection("missing_key", "message has no key (expected the session_id)")
        if value is None:
            return Rejection("undecodable", "message has no value (a tombstone?)")
        try:
            record, _ = self._serializers[topic].decode_with_writer(value)
        except ContractError as exc:
            return Rejection(exc.reason, str(exc))
        kind = self._kinds[topic]
        problem = _semantic_problem(kind, key, record)
        if problem:
            return Rejection("schema_invalid", problem)
        if sent_at is not None and record["event_time"] > sent_at + self.max_future_skew_ms:
            return Rejection(
                "future_event_time",
                f"event_time {record['event_time']} is {record['event_time'] - sent_at} ms after "
                f"the message was sent ({sent_at}); at most {self.max_future_skew_ms} ms allowed",
            )
        if kind == "signal" and record.get("source") == "inferred":
            if is_own_abandoned_signal(record):
                return None  # our own output, read back
            return Rejection(
                "reserved_source",
                "signal source 'inferred' is reserved for the processor's own signals; "
                "agents send 'agent' or 'client'",
            )
        return record

    def decode_accepted(self, topic: str, value: bytes) -> dict[str, Any]:
        """Decode a message `decode` accepted before (e.g. persisted state), without checks."""
        return self._serializers[topic].decode(value)

    def encode(self, topic: str, record: dict[str, Any]) -> bytes:
        return self._serializers[topic].encode(record)


def _semantic_problem(kind: str, key: bytes, record: dict[str, Any]) -> str | None:
    if not record.get("event_id"):
        return "empty event_id"
    session_id = record.get("session_id")
    if not session_id:
        return "empty session_id"
    try:
        key_text = key.decode()
    except UnicodeDecodeError:
        return "key is not UTF-8"
    if key_text != session_id:
        return f"key {key_text[:80]!r} differs from session_id {session_id[:80]!r}"
    if kind == "feedback":
        rating = record.get("rating")
        if rating is not None and not 1 <= rating <= 5:
            return f"rating {rating} outside 1-5"
        if record.get("kind") == "rating" and rating is None:
            return "rating feedback without a rating"
        if record.get("kind") == "thumbs" and record.get("thumbs_up") is None:
            return "thumbs feedback without thumbs_up"
    if kind == "interaction":
        if record.get("turn_index", 0) < 0:
            return f"negative turn_index {record['turn_index']}"
        if record.get("latency_ms", 0) < 0:
            return f"negative latency_ms {record['latency_ms']}"
    return None


def dead_letter_record(
    reason: str,
    message: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp: int | None,
    key: bytes | None,
    value: bytes | None,
    max_bytes: int,
) -> dict[str, Any]:
    """An `agentfeedback.deadletter.DeadLetter` record.

    `detected_at` is the source record's Kafka timestamp (not the wall clock) so that a dead
    letter re-emitted after a crash is byte-identical to the first one.
    """
    original = value or b""
    return {
        "reason": reason,
        "message": message[:2000],
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_timestamp": timestamp,
        "key": key,
        "original": original[:max_bytes],
        "original_size": len(original),
        "truncated": len(original) > max_bytes,
        "detected_by": "processor",
        "detected_at": timestamp or 0,
    }
