"""Builds the records agents send: the newest schema's fields, with event_id and event_time
filled when the caller leaves them out (`producers.checks` then checks them)."""

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, TypedDict

from schemas.exceptions import InvalidRecordError

__all__ = [
    "MAX_EVENT_TIME_MS",
    "MIN_EVENT_TIME_MS",
    "FeedbackFields",
    "InteractionFields",
    "SignalFields",
    "build_feedback",
    "build_interaction",
    "build_signal",
    "event_time_ms",
    "new_event_id",
]

# 2000-01-01 and 2100-01-01 UTC: outside this range the caller almost surely passed seconds,
# microseconds or garbage.
MIN_EVENT_TIME_MS = 946_684_800_000
MAX_EVENT_TIME_MS = 4_102_444_800_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


class InteractionFields(TypedDict):
    """Keyword arguments of `log_interaction` (see `build_interaction`)."""

    session_id: str
    turn_index: int
    agent_id: str
    agent_version: str
    model: str
    prompt: str
    response: str
    latency_ms: int
    prompt_tokens: NotRequired[int]
    completion_tokens: NotRequired[int]
    cost_usd: NotRequired[float]
    tools_used: NotRequired[Iterable[Mapping[str, Any]]]
    context: NotRequired[Mapping[str, str] | None]
    user_id: NotRequired[str | None]
    reasoning: NotRequired[str | None]
    retry_of: NotRequired[str | None]
    attachments: NotRequired[Iterable[Any]]
    event_id: NotRequired[str | None]
    event_time: NotRequired[int | datetime | None]


class FeedbackFields(TypedDict):
    """Keyword arguments of `log_feedback` (see `build_feedback`)."""

    session_id: str
    kind: str
    interaction_id: NotRequired[str | None]
    thumbs_up: NotRequired[bool | None]
    rating: NotRequired[int | None]
    correction: NotRequired[str | None]
    comment: NotRequired[str | None]
    source: NotRequired[str]
    rater_id: NotRequired[str | None]
    attachments: NotRequired[Iterable[Any]]
    event_id: NotRequired[str | None]
    event_time: NotRequired[int | datetime | None]


class SignalFields(TypedDict):
    """Keyword arguments of `log_signal` (see `build_signal`)."""

    session_id: str
    kind: str
    source: NotRequired[str]
    interaction_id: NotRequired[str | None]
    detail: NotRequired[str | None]
    event_id: NotRequired[str | None]
    event_time: NotRequired[int | datetime | None]


def new_event_id() -> str:
    """A random UUID (version 4) as text: the dedup key of an event."""
    return str(uuid.uuid4())


def event_time_ms(value: int | datetime | None, field: str = "event_time") -> int:
    """Epoch milliseconds from an int, an aware datetime, or now when None."""
    if value is None:
        return time.time_ns() // 1_000_000
    if type(value) is int:
        if not MIN_EVENT_TIME_MS <= value <= MAX_EVENT_TIME_MS:
            raise InvalidRecordError(
                f"{field}={value} is not epoch milliseconds between 2000 and 2100 "
                "(seconds or microseconds passed by mistake?)",
                field,
            )
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidRecordError(
                f"{field} is a naive datetime; pass an aware one (e.g. datetime.now(UTC))", field
            )
        return event_time_ms((value - _EPOCH) // _ONE_MS, field)
    raise InvalidRecordError(
        f"{field} must be epoch milliseconds (int) or an aware datetime, "
        f"got {type(value).__name__}",
        field,
    )


def build_interaction(
    *,
    session_id: str,
    turn_index: int,
    agent_id: str,
    agent_version: str,
    model: str,
    prompt: str,
    response: str,
    latency_ms: int,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float = 0.0,
    tools_used: Iterable[Mapping[str, Any]] = (),
    context: Mapping[str, str] | None = None,
    user_id: str | None = None,
    reasoning: str | None = None,
    retry_of: str | None = None,
    attachments: Iterable[Mapping[str, Any]] = (),
    event_id: str | None = None,
    event_time: int | datetime | None = None,
) -> dict[str, Any]:
    """An Interaction record (newest schema) with event_id and event_time filled when absent;
    `attachments` are Attachment records (the client stores files first)."""
    return {
        "event_id": event_id if event_id is not None else new_event_id(),
        "session_id": session_id,
        "turn_index": turn_index,
        "agent_id": agent_id,
        "agent_version": agent_version,
        "model": model,
        "event_time": event_time_ms(event_time),
        "user_id": user_id,
        "prompt": prompt,
        "response": response,
        "reasoning": reasoning,
        "tools_used": [_tool_call(call, i) for i, call in enumerate(_tool_list(tools_used))],
        "context": _context(context),
        "latency_ms": latency_ms,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost_usd,
        "retry_of": retry_of,
        "attachments": [dict(item) for item in attachments],
    }


def build_feedback(
    *,
    session_id: str,
    kind: str,
    interaction_id: str | None = None,
    thumbs_up: bool | None = None,
    rating: int | None = None,
    correction: str | None = None,
    comment: str | None = None,
    source: str = "end_user",
    rater_id: str | None = None,
    attachments: Iterable[Mapping[str, Any]] = (),
    event_id: str | None = None,
    event_time: int | datetime | None = None,
) -> dict[str, Any]:
    """A Feedback record; `kind` says which of thumbs_up / rating / correction / comment is set."""
    return {
        "event_id": event_id if event_id is not None else new_event_id(),
        "session_id": session_id,
        "interaction_id": interaction_id,
        "event_time": event_time_ms(event_time),
        "kind": kind,
        "thumbs_up": thumbs_up,
        "rating": rating,
        "correction": correction,
        "comment": comment,
        "source": source,
        "rater_id": rater_id,
        "attachments": [dict(item) for item in attachments],
    }


def build_signal(
    *,
    session_id: str,
    kind: str,
    source: str = "agent",
    interaction_id: str | None = None,
    detail: str | None = None,
    event_id: str | None = None,
    event_time: int | datetime | None = None,
) -> dict[str, Any]:
    """A Signal record (task_completed, task_failed, retried, escalated_to_human...)."""
    return {
        "event_id": event_id if event_id is not None else new_event_id(),
        "session_id": session_id,
        "interaction_id": interaction_id,
        "event_time": event_time_ms(event_time),
        "kind": kind,
        "source": source,
        "detail": detail,
    }


def _tool_list(tools_used: Any) -> Iterable[Any]:
    """The tool calls; a string, a mapping or a scalar is a mistake, not a list of calls."""
    if isinstance(tools_used, str | bytes | Mapping) or not isinstance(tools_used, Iterable):
        raise InvalidRecordError(
            f"tools_used must be a list of tool calls, got {type(tools_used).__name__}",
            "tools_used",
        )
    return tools_used


def _context(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise InvalidRecordError(
            f"context must be a mapping of strings, got {type(context).__name__}", "context"
        )
    return dict(context)


def _tool_call(call: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Fill a tool call's optional parts: arguments may be a JSON-able value, status is `ok`."""
    if not isinstance(call, Mapping):
        raise InvalidRecordError(
            f"tools_used[{index}] must be a mapping, got {type(call).__name__}",
            f"tools_used[{index}]",
        )
    arguments = call.get("arguments", "{}")
    if type(arguments) is not str:
        try:
            arguments = json.dumps(arguments, separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError(
                f"tools_used[{index}].arguments is not JSON-serialisable: {exc}",
                f"tools_used[{index}].arguments",
            ) from None
    return {
        "name": call.get("name"),
        "arguments": arguments,
        "status": call.get("status", "ok"),
        "latency_ms": call.get("latency_ms", 0),
    }
