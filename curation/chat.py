"""Chat-format messages (system / user / assistant, with tool calls) built from lake turns.

The format is the one OpenAI fine-tuning and Hugging Face TRL read: an assistant message may
carry `tool_calls` (id, type "function", function name and JSON arguments), each followed by a
`tool` message. The lake keeps each call's status, not its output, so a tool message's content
is `{"status": ...}`. Earlier assistant turns of a per-turn example carry `"weight": 0`: they
are context, not targets.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

__all__ = [
    "MESSAGE_TYPE",
    "answer_messages",
    "context_messages",
    "tool_call_id",
]

Message = dict[str, Any]

_FUNCTION = pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())])
_TOOL_CALL = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("type", pa.string()),
        pa.field("function", _FUNCTION),
    ]
)
# Parquet shape of one message; absent keys of the JSONL form are nulls here.
MESSAGE_TYPE = pa.struct(
    [
        pa.field("role", pa.string()),
        pa.field("content", pa.string()),
        pa.field("tool_calls", pa.list_(_TOOL_CALL)),
        pa.field("tool_call_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("weight", pa.int8()),
    ]
)


def tool_call_id(event_id: str, position: int) -> str:
    """Stable id of a turn's n-th tool call (the lake has none)."""
    return f"call_{event_id.replace('-', '')[:16]}_{position}"


def answer_messages(
    event_id: str,
    answer: str,
    tools: Sequence[Mapping[str, Any]] | None,
    *,
    weight: int | None = None,
) -> list[Message]:
    """The assistant side of one turn: tool calls with their status, then the final answer."""
    messages: list[Message] = []
    if tools:
        calls = [
            {
                "id": tool_call_id(event_id, position),
                "type": "function",
                "function": {"name": tool["name"], "arguments": tool["arguments"]},
            }
            for position, tool in enumerate(tools)
        ]
        messages.append(
            _weighted({"role": "assistant", "content": None, "tool_calls": calls}, weight)
        )
        messages.extend(
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "name": tool["name"],
                "content": _status_json(tool["status"]),
            }
            for call, tool in zip(calls, tools, strict=True)
        )
    messages.append(_weighted({"role": "assistant", "content": answer}, weight))
    return messages


def context_messages(
    system_prompt: str | None,
    history: Sequence[Mapping[str, Any]],
    prompt: str,
    *,
    history_weight: int | None = 0,
) -> list[Message]:
    """System prompt, earlier turns (user + assistant), then this turn's user message."""
    messages: list[Message] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for turn in history:
        messages.append({"role": "user", "content": turn["prompt"]})
        messages.extend(
            answer_messages(
                turn["event_id"], turn["response"], turn["tools_used"], weight=history_weight
            )
        )
    messages.append({"role": "user", "content": prompt})
    return messages


def _status_json(status: str) -> str:
    # Statuses are enum symbols (ok, error, timeout, unknown): no escaping needed, and this runs
    # once per tool call of every example.
    return _STATUS_JSON.get(status) or json.dumps({"status": status})


_STATUS_JSON = {
    status: json.dumps({"status": status}) for status in ("ok", "error", "timeout", "unknown")
}


def _weighted(message: Message, weight: int | None) -> Message:
    if weight is not None:
        message["weight"] = weight
    return message
