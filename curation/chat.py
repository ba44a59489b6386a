"""Chat-format messages (system / user / assistant, with tool calls) built from lake turns.

The format is the one OpenAI fine-tuning and Hugging Face TRL read: an assistant message may
carry `tool_calls` (id, type "function", function name and JSON arguments), each followed by a
`tool` message. The lake keeps each call's status, not its output, so a tool message's content
is `{"status": ...}`. Earlier assistant turns of a per-turn example carry `"weight": 0`: they
are context, not targets.

Arguments stay JSON text in the rows (OpenAI's fine-tuning format wants a string); the dataset
card declares them `json`, so `datasets.load_dataset` hands TRL the objects its chat templates
expect. `tool_specs` gives an example's `tools` column: the function specs (name and argument
types, inferred from the calls: the lake records no tool schemas) of the tools it calls.
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
    "tool_specs",
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


def tool_specs(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function specs of the tools `messages` call, by name; each argument's JSON type
    from the calls (several types: all of them, in order of first use)."""
    seen: dict[str, dict[str, list[str]]] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call["function"]
            properties = seen.setdefault(function["name"], {})
            for key, value in _arguments(function["arguments"]).items():
                types = properties.setdefault(key, [])
                if _json_type(value) not in types:
                    types.append(_json_type(value))
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "parameters": {
                    "type": "object",
                    "properties": {
                        key: {"type": types[0] if len(types) == 1 else types}
                        for key, types in properties.items()
                    },
                },
            },
        }
        for name, properties in sorted(seen.items())
    ]


def _arguments(text: str | None) -> dict[str, Any]:
    """A call's arguments as an object ({} when they are not a JSON object)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


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
