"""The contract checks of agent events: what the Avro schemas cannot say.

The schemas check types; these checks add the rules of the contract: a non-empty session_id,
UUIDs where ids are expected, epoch-millisecond times in a sane range, text within the configured
size, ratings 1-5, and a feedback kind that matches the value it carries. Every failure raises
`InvalidRecordError` naming the field, before anything is sent.
"""

import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from producers.records import MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS, event_time_ms
from schemas.catalog import default_catalog
from schemas.exceptions import InvalidRecordError
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

__all__ = [
    "RecordCheck",
    "check_feedback",
    "check_interaction",
    "check_signal",
    "checker_for",
    "enum_symbols",
]

_INT32_MAX = 2**31 - 1
# The canonical text form only: event ids are compared as strings downstream.
_is_uuid = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
).fullmatch

RecordCheck = Callable[[Mapping[str, Any], int], None]


@cache
def enum_symbols(full_name: str, field: str) -> frozenset[str]:
    """Symbols a producer may send for an enum field: all but the reader-side `unknown`."""
    for spec in default_catalog().latest(full_name).source["fields"]:
        if spec["name"] == field:
            return frozenset(spec["type"]["symbols"]) - {"unknown"}
    raise KeyError(f"{full_name} has no field {field!r}")


def check_interaction(record: Mapping[str, Any], max_text_bytes: int) -> None:
    """Raise InvalidRecordError naming the first field that breaks the Interaction contract."""
    # The fast test accepts only what the full check accepts; the full check runs (and names
    # the field) only when the fast one has a doubt.
    if not _interaction_looks_valid(record, max_text_bytes):
        _check_interaction_fully(record, max_text_bytes)


def _check_interaction_fully(record: Mapping[str, Any], max_text_bytes: int) -> None:
    _check_common(record)
    for name in ("agent_id", "agent_version", "model"):
        _require_text(record, name, max_text_bytes, non_empty=True)
    for name in ("prompt", "response"):
        _require_text(record, name, max_text_bytes)
    for name in ("user_id", "reasoning"):
        _optional_text(record, name, max_text_bytes)
    for name in ("turn_index", "latency_ms", "prompt_tokens", "completion_tokens"):
        _non_negative_int32(record.get(name), name)
    cost: Any = record.get("cost_usd")
    if type(cost) not in (int, float) or not math.isfinite(cost) or cost < 0:
        raise InvalidRecordError(f"cost_usd must be a finite number >= 0, got {cost!r}", "cost_usd")
    _optional_uuid(record, "retry_of")
    if record.get("retry_of") is not None and record["retry_of"] == record["event_id"]:
        raise InvalidRecordError("retry_of points at the interaction itself", "retry_of")
    _check_tools(record.get("tools_used", []), max_text_bytes)
    _check_context(record.get("context", {}), max_text_bytes)


def _interaction_looks_valid(record: Any, max_text_bytes: int) -> bool:
    """The common case in a few microseconds: plain dicts, short texts, canonical values."""
    short = max_text_bytes // 4  # a character is at most 4 UTF-8 bytes
    try:
        if not _common_looks_valid(record):
            return False
        for name in ("agent_id", "agent_version", "model"):
            value = record[name]
            if type(value) is not str or len(value) > short or not value or value.isspace():
                return False
        for name in ("prompt", "response"):
            value = record[name]
            if type(value) is not str or len(value) > short:
                return False
        for name in ("user_id", "reasoning"):
            value = record.get(name)
            if value is not None and (type(value) is not str or len(value) > short):
                return False
        for name in ("turn_index", "latency_ms", "prompt_tokens", "completion_tokens"):
            value = record[name]
            if type(value) is not int or not 0 <= value <= _INT32_MAX:
                return False
        cost = record["cost_usd"]
        if (type(cost) is not float and type(cost) is not int) or not 0 <= cost < math.inf:
            return False
        retry_of = record.get("retry_of")
        if retry_of is not None and (
            type(retry_of) is not str or not _is_uuid(retry_of) or retry_of == record["event_id"]
        ):
            return False
        tools = record.get("tools_used", [])
        if type(tools) is not list:
            return False
        for call in tools:
            name, arguments, latency = call["name"], call["arguments"], call["latency_ms"]
            if (
                type(call) is not dict
                or type(name) is not str
                or not name
                or name.isspace()
                or len(name) > short
                or type(arguments) is not str
                or len(arguments) > short
                or call["status"] not in _TOOL_STATUSES
                or type(latency) is not int
                or not 0 <= latency <= _INT32_MAX
            ):
                return False
        context = record.get("context", {})
        if type(context) is not dict:
            return False
        for key, value in context.items():
            if type(key) is not str or type(value) is not str or len(value) > short:
                return False
    except (KeyError, TypeError, AttributeError):
        return False
    return True


def _common_looks_valid(record: Any) -> bool:
    session_id = record.get("session_id")
    if type(session_id) is not str or not session_id or session_id.isspace():
        return False
    event_id = record.get("event_id")
    if type(event_id) is not str or not _is_uuid(event_id):
        return False
    event_time = record.get("event_time")
    return type(event_time) is int and MIN_EVENT_TIME_MS <= event_time <= MAX_EVENT_TIME_MS


def check_feedback(record: Mapping[str, Any], max_text_bytes: int) -> None:
    """Raise InvalidRecordError naming the first field that breaks the Feedback contract."""
    _check_common(record)
    _optional_uuid(record, "interaction_id")
    kind = _check_enum(record, FEEDBACK.value_record, "kind")
    _check_enum(record, FEEDBACK.value_record, "source")
    _optional_text(record, "rater_id", max_text_bytes)
    _optional_text(record, "comment", max_text_bytes)
    _optional_text(record, "correction", max_text_bytes)
    thumbs, rating = record.get("thumbs_up"), record.get("rating")
    if thumbs is not None and type(thumbs) is not bool:
        raise InvalidRecordError(f"thumbs_up must be true or false, got {thumbs!r}", "thumbs_up")
    if rating is not None and (type(rating) is not int or not 1 <= rating <= 5):
        raise InvalidRecordError(f"rating must be an int from 1 to 5, got {rating!r}", "rating")
    # The value field of the kind must be set and the other value fields empty (a comment may
    # accompany any kind), so a consumer never has to guess what a record means.
    value_field = _VALUE_FIELD_OF_KIND.get(kind)
    if value_field is not None and record.get(value_field) in (None, ""):
        raise InvalidRecordError(f"kind={kind} needs {value_field} to be set", value_field)
    for other in ("thumbs_up", "rating", "correction"):
        if other != value_field and record.get(other) is not None:
            raise InvalidRecordError(f"kind={kind} must not carry {other}", other)


def check_signal(record: Mapping[str, Any], max_text_bytes: int) -> None:
    """Raise InvalidRecordError naming the first field that breaks the Signal contract."""
    _check_common(record)
    _optional_uuid(record, "interaction_id")
    _check_enum(record, SIGNALS.value_record, "kind")
    if _check_enum(record, SIGNALS.value_record, "source") == "inferred":
        raise InvalidRecordError(
            "source='inferred' is reserved for the signals the processor derives itself; "
            "send source='agent' or 'client'",
            "source",
        )
    _optional_text(record, "detail", max_text_bytes)


_CHECKS: dict[str, RecordCheck] = {
    INTERACTIONS.value_record: check_interaction,
    FEEDBACK.value_record: check_feedback,
    SIGNALS.value_record: check_signal,
}
_VALUE_FIELD_OF_KIND = {
    "thumbs": "thumbs_up",
    "rating": "rating",
    "correction": "correction",
    "comment": "comment",
}


def checker_for(value_record: str) -> RecordCheck:
    """The contract check of an input topic's record (Interaction, Feedback, Signal)."""
    try:
        return _CHECKS[value_record]
    except KeyError:
        raise KeyError(
            f"{value_record} is not an agent event; the SDK sends interactions, feedback, signals"
        ) from None


def _check_common(record: Mapping[str, Any]) -> None:
    if not isinstance(record, Mapping):
        raise InvalidRecordError(f"an event must be a mapping, got {type(record).__name__}")
    session_id = record.get("session_id")
    if type(session_id) is not str or not session_id.strip():
        raise InvalidRecordError(
            f"session_id must be a non-empty string (it is the Kafka key), got {session_id!r}",
            "session_id",
        )
    _require_uuid(record.get("event_id"), "event_id")
    event_time = record.get("event_time")
    if type(event_time) is not int:
        raise InvalidRecordError(
            f"event_time must be epoch milliseconds (int), got {type(event_time).__name__}",
            "event_time",
        )
    event_time_ms(event_time)


def _require_uuid(value: Any, field: str) -> None:
    if type(value) is not str or not _is_uuid(value):
        raise InvalidRecordError(
            f"{field} must be a UUID in canonical form (8-4-4-4-12 hex digits), got {value!r}",
            field,
        )


def _optional_uuid(record: Mapping[str, Any], field: str) -> None:
    value = record.get(field)
    if value is not None:
        _require_uuid(value, field)


def _require_text(
    record: Mapping[str, Any], field: str, max_bytes: int, non_empty: bool = False
) -> None:
    value = record.get(field)
    if type(value) is not str:
        raise InvalidRecordError(f"{field} must be a string, got {value!r:.80}", field)
    if non_empty and not value.strip():
        raise InvalidRecordError(f"{field} must not be empty", field)
    _within_limit(value, field, max_bytes)


def _optional_text(record: Mapping[str, Any], field: str, max_bytes: int) -> None:
    value = record.get(field)
    if value is not None:
        _require_text(record, field, max_bytes)


def _within_limit(value: str, field: str, max_bytes: int) -> None:
    # A character is at most 4 UTF-8 bytes: short strings need no encoding to be measured.
    if len(value) * 4 > max_bytes and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidRecordError(
            f"{field} is {len(value.encode('utf-8', 'surrogatepass'))} bytes of UTF-8, above the "
            f"limit of {max_bytes} (FEEDBACK_PRODUCER_MAX_TEXT_BYTES)",
            field,
        )


def _non_negative_int32(value: Any, field: str) -> None:
    if type(value) is not int or not 0 <= value <= _INT32_MAX:
        raise InvalidRecordError(f"{field} must be an int from 0 to 2^31-1, got {value!r}", field)


def _check_enum(record: Mapping[str, Any], full_name: str, field: str) -> Any:
    value = record.get(field)
    allowed = enum_symbols(full_name, field)
    if not isinstance(value, str) or value not in allowed:  # a list or dict is not hashable
        raise InvalidRecordError(
            f"{field}={value!r} is not one of {', '.join(sorted(allowed))}", field
        )
    return value


def _check_tools(tools: Any, max_text_bytes: int) -> None:
    if not isinstance(tools, list):
        raise InvalidRecordError(
            f"tools_used must be a list, got {type(tools).__name__}", "tools_used"
        )
    for index, call in enumerate(tools):
        where = f"tools_used[{index}]"
        if not isinstance(call, Mapping):
            raise InvalidRecordError(f"{where} must be a mapping, got {call!r:.80}", where)
        name = call.get("name")
        if type(name) is not str or not name.strip():
            raise InvalidRecordError(f"{where}.name must be a non-empty string", f"{where}.name")
        _within_limit(name, f"{where}.name", max_text_bytes)
        arguments = call.get("arguments")
        if type(arguments) is not str:
            raise InvalidRecordError(f"{where}.arguments must be JSON text", f"{where}.arguments")
        _within_limit(arguments, f"{where}.arguments", max_text_bytes)
        _check_enum_value(call.get("status"), _TOOL_STATUSES, f"{where}.status")
        _non_negative_int32(call.get("latency_ms"), f"{where}.latency_ms")


def _check_context(context: Any, max_text_bytes: int) -> None:
    if not isinstance(context, Mapping):
        raise InvalidRecordError(
            f"context must be a mapping, got {type(context).__name__}", "context"
        )
    for key, value in context.items():
        if type(key) is not str or type(value) is not str:
            raise InvalidRecordError(
                f"context maps strings to strings, got {key!r}: {value!r:.80}", f"context.{key}"
            )
        _within_limit(value, f"context.{key}", max_text_bytes)


def _check_enum_value(value: Any, allowed: frozenset[str], field: str) -> None:
    if not isinstance(value, str) or value not in allowed:  # a list or dict is not hashable
        raise InvalidRecordError(
            f"{field}={value!r} is not one of {', '.join(sorted(allowed))}", field
        )


def _tool_symbols() -> frozenset[str]:
    fields = default_catalog().latest(INTERACTIONS.value_record).source["fields"]
    tools = next(f for f in fields if f["name"] == "tools_used")
    status = next(f for f in tools["type"]["items"]["fields"] if f["name"] == "status")
    return frozenset(status["type"]["symbols"]) - {"unknown"}


_TOOL_STATUSES = _tool_symbols()
