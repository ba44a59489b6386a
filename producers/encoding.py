"""Checked encoders: the SDK's contract checks and the Avro encoding of an event in one pass.

A log call used to check the record (`producers.checks`) and then encode it: two walks over the
same fields, each looking every value up and testing its type again, about 4 µs and 7 µs of a
1 KB interaction. The writer generated here (`schemas.fast_writer` with guards) encodes and
checks the contract's rules as it goes: an event in the common case (plain dicts, canonical
values, the whole event under the text limit, so no text field can be above it) is done in one
walk. Whatever it has a doubt about raises `Fallback`, and the caller takes the slow path: the
full checks, which name the offending field, then the serializer (fastavro for what the compiled
writer declines). So the bytes are always the serializer's, and only records the full checks
accept get through the fast path (property tests hold both).

Why no library: the rules are this project's contract; Avro libraries check types only.
"""

import math
import time
from collections.abc import Mapping
from typing import Any

from producers.checks import _TOOL_STATUSES, _VALUE_FIELD_OF_KIND, _is_uuid, enum_symbols
from producers.records import MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS
from schemas.fast_writer import Fallback, Guards, RecordWriter, compile_writer
from schemas.serializer import MARKER, SingleObjectSerializer
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

__all__ = ["CheckedEncoder", "Fallback", "checked_encoder", "contract_guards"]

CheckedEncoder = RecordWriter
_NAMESPACE = "agentfeedback.events."
_NON_BLANK = "{v} and not {v}.isspace()"
_COMMON = {
    "event_id": "_is_uuid({v})",
    "session_id": _NON_BLANK,
    # The range check of producers.records, and the clock check of the client (max_future_skew).
    "event_time": "_MIN_TIME <= {v} <= _MAX_TIME and {v} - _time_ns() // 1000000 <= _MAX_AHEAD",
    "interaction_id": "{v} is None or _is_uuid({v})",
}


def _feedback_consistent(record: Mapping[str, Any]) -> bool:
    """The value field of the kind is set, the others empty (producers.checks.check_feedback)."""
    value_field = _VALUE_FIELD_OF_KIND.get(record["kind"])
    if value_field is not None and record[value_field] in (None, ""):
        return False
    return all(
        other == value_field or record[other] is None
        for other in ("thumbs_up", "rating", "correction")
    )


def contract_guards() -> tuple[Guards, dict[str, Any]]:
    """The contract's rules (producers.checks) as writer guards, and the names they use."""
    interaction = {
        **_COMMON,
        **dict.fromkeys(("agent_id", "agent_version", "model"), _NON_BLANK),
        **dict.fromkeys(
            ("turn_index", "latency_ms", "prompt_tokens", "completion_tokens"), "{v} >= 0"
        ),
        "cost_usd": "0.0 <= {v} < _INF",  # NaN compares false
        "retry_of": "{v} is None or (_is_uuid({v}) and {v} != {record}['event_id'])",
    }
    tool_call = {"name": _NON_BLANK, "status": "{v} in _TOOL_STATUSES", "latency_ms": "{v} >= 0"}
    feedback = {
        **_COMMON,
        "kind": "{v} in _FEEDBACK_KINDS",
        "source": "{v} in _FEEDBACK_SOURCES",
        "rating": "{v} is None or 1 <= {v} <= 5",
        "": "_feedback_consistent({record})",
    }
    signal = {
        **_COMMON,
        "kind": "{v} in _SIGNAL_KINDS",
        # 'inferred' is reserved for the processor's own signals.
        "source": "{v} in _SIGNAL_SOURCES and {v} != 'inferred'",
    }
    guards = {
        INTERACTIONS.value_record: interaction,
        _NAMESPACE + "ToolCall": tool_call,
        FEEDBACK.value_record: feedback,
        SIGNALS.value_record: signal,
    }
    constants = {
        "_is_uuid": _is_uuid,
        "_time_ns": time.time_ns,
        "_MIN_TIME": MIN_EVENT_TIME_MS,
        "_MAX_TIME": MAX_EVENT_TIME_MS,
        "_INF": math.inf,
        "_TOOL_STATUSES": _TOOL_STATUSES,
        "_FEEDBACK_KINDS": enum_symbols(FEEDBACK.value_record, "kind"),
        "_FEEDBACK_SOURCES": enum_symbols(FEEDBACK.value_record, "source"),
        "_SIGNAL_KINDS": enum_symbols(SIGNALS.value_record, "kind"),
        "_SIGNAL_SOURCES": enum_symbols(SIGNALS.value_record, "source"),
        "_feedback_consistent": _feedback_consistent,
    }
    return guards, constants


def checked_encoder(
    serializer: Any, max_text_bytes: int, max_event_bytes: int, max_future_skew_ms: int
) -> CheckedEncoder | None:
    """Encode + check in one pass for a single-object serializer's writer schema, or None
    (another wire format, or a schema the writer cannot compile): then check, then encode.

    Raises `Fallback` (or another exception) for anything it is not sure of; its bytes are
    `serializer.encode(record)`'s.
    """
    if type(serializer) is not SingleObjectSerializer:
        return None  # e.g. the Confluent framing of a schema registry
    guards, constants = contract_guards()
    constants["_MAX_AHEAD"] = max_future_skew_ms
    return compile_writer(
        serializer.writer.plain,
        prefix=MARKER + serializer.writer.fingerprint,
        guards=guards,
        constants=constants,
        max_size=min(max_text_bytes, max_event_bytes),
    )
