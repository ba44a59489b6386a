"""Rows of `raw_events` -> input events of the reference, or the dead letters of intake that
need the bytes: `oversized`, `missing_key`, `undecodable`, `unknown_fingerprint`,
`wrong_schema` (checked in that order, as docs/semantics.md lists them).

Each row's `value` is decoded in full with the project's serializers (`schemas.serializer`),
whatever the sink's prefix decoder said in `decode_error`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.exceptions import ContractError
from schemas.serializer import SingleObjectSerializer, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec, topic_by_name
from verification.events import InputEvent
from verification.reference import ExpectedDeadLetter

__all__ = ["DecodedInput", "RawRow", "decode_raw_rows"]

_KINDS = {
    INTERACTIONS.value_record: "interaction",
    FEEDBACK.value_record: "feedback",
    SIGNALS.value_record: "signal",
}


@dataclass(frozen=True)
class RawRow:
    """The columns of one `raw_events` row the reference needs (timestamp in epoch ms)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None


@dataclass
class DecodedInput:
    """Decoded events, and the messages refused before decoding or by it."""

    events: list[InputEvent] = field(default_factory=list)
    dead_letters: list[ExpectedDeadLetter] = field(default_factory=list)


def decode_raw_rows(rows: Iterable[RawRow], max_value_bytes: int) -> DecodedInput:
    """Decode every row; rows of topics that are not input topics are an error."""
    decoded = DecodedInput()
    decoders: dict[str, tuple[str, SingleObjectSerializer]] = {}
    for row in rows:
        if row.topic not in decoders:
            decoders[row.topic] = _decoder_for(topic_by_name(row.topic))
        kind, serializer = decoders[row.topic]
        outcome = _decode(row, serializer, max_value_bytes)
        if isinstance(outcome, tuple):
            reason, message = outcome
            decoded.dead_letters.append(
                ExpectedDeadLetter(row.topic, row.partition, row.offset, reason, message)
            )
            continue
        decoded.events.append(
            InputEvent(kind, outcome, row.topic, row.partition, row.offset, row.timestamp, row.key)
        )
    return decoded


def _decoder_for(spec: TopicSpec) -> tuple[str, SingleObjectSerializer]:
    if spec.value_record not in _KINDS:
        raise ValueError(f"{spec.name} is not an input topic of the processor")
    return _KINDS[spec.value_record], serializer_for(spec)


def _decode(
    row: RawRow, serializer: SingleObjectSerializer, max_value_bytes: int
) -> Mapping[str, Any] | tuple[str, str]:
    if row.value is not None and len(row.value) > max_value_bytes:
        return ("oversized", f"value of {len(row.value)} bytes exceeds {max_value_bytes}")
    if not row.key:
        return ("missing_key", "message has no key")
    if row.value is None:
        return ("undecodable", "message has no value")
    try:
        return serializer.decode(row.value)
    except ContractError as exc:
        return (exc.reason, str(exc))
