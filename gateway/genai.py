"""GenAI spans to the pipeline's events: the mapping table of docs/gateway.md, as code.

A span whose `gen_ai.operation.name` is `chat`, `text_completion` or `generate_content` (or that
has no operation name but a `gen_ai.request.model`) is one turn: an interaction. `execute_tool`
spans become tool calls of the turn that asked for them. Feedback is a span event named
`feedback`, or a span with a `feedback.kind` attribute, that points at a turn (the span it is on,
or its first link). Other spans (HTTP, database, `invoke_agent`...) are not the pipeline's
business and are skipped. The result is keyword arguments of the SDK's builders: the gateway's
`EventContract` checks them as it checks any posted event.

Ids are derived, not drawn: an interaction's event_id is a UUID5 of its trace and span id, so an
exporter that retries an export sends the same events again and the pipeline deduplicates them.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.otlp import OtlpSpan

__all__ = ["MappedEvent", "SpanMapping", "map_spans", "span_event_id"]

INTERACTION_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_NAMESPACE = uuid.UUID("5b0c9d8e-7f61-4d0e-9a55-3f3c8f1a6e21")
_FEEDBACK_FIELDS = ("kind", "thumbs_up", "rating", "correction", "comment", "source", "rater_id")


@dataclass(frozen=True)
class MappedEvent:
    """Builder arguments of one event and the span it came from (for error messages)."""

    kind: str  # interaction | feedback
    fields: dict[str, Any]
    span: str  # "<trace_id>/<span_id>"


@dataclass
class SpanMapping:
    events: list[MappedEvent] = field(default_factory=list)
    skipped_spans: int = 0  # not GenAI turns, tools or feedback
    orphan_tool_spans: int = 0  # execute_tool spans with no turn of theirs in the request


def span_event_id(trace_id: str, span_id: str, suffix: str = "") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{trace_id}/{span_id}{suffix}"))


def map_spans(spans: Iterable[OtlpSpan], agent_id: str) -> SpanMapping:
    """Interactions and feedback of one export request, for the API key's agent."""
    mapping = SpanMapping()
    turns: list[OtlpSpan] = []
    tools: list[OtlpSpan] = []
    others: list[OtlpSpan] = []
    for span in spans:
        operation = span.attributes.get("gen_ai.operation.name")
        if operation in INTERACTION_OPERATIONS or (
            operation is None and "gen_ai.request.model" in span.attributes
        ):
            turns.append(span)
        elif operation == "execute_tool":
            tools.append(span)
        else:
            others.append(span)
    turns.sort(key=lambda span: span.start_unix_nano)
    tool_calls = _tool_calls_by_turn(turns, tools, mapping)
    turn_ids = {(s.trace_id, s.span_id): span_event_id(s.trace_id, s.span_id) for s in turns}
    next_index: dict[str, int] = defaultdict(int)
    for span in turns:
        session = session_of(span)
        fields = _interaction(span, session, agent_id, tool_calls.get(span.span_id, []))
        fields["turn_index"] = next_index[session]
        next_index[session] += 1
        mapping.events.append(MappedEvent("interaction", fields, f"{span.trace_id}/{span.span_id}"))
    for span in turns + tools + others:
        found = _feedback(span, turn_ids)
        mapping.events.extend(found)
        if not found and span in others:
            mapping.skipped_spans += 1
    return mapping


def session_of(span: OtlpSpan, fallback_trace: str | None = None) -> str:
    """The conversation (or session) id attribute, else the trace the turn belongs to."""
    value = span.attribute("gen_ai.conversation.id", "session.id")
    return str(value) if value not in (None, "") else (fallback_trace or span.trace_id)


def _interaction(
    span: OtlpSpan, session: str, agent_id: str, tools: list[dict[str, Any]]
) -> dict[str, Any]:
    inputs = _messages(span.attribute("gen_ai.input.messages"))
    outputs = _messages(span.attribute("gen_ai.output.messages"))
    prompt = _last_text(inputs, "user") or _event_text(span, "input") or _indexed(span, "prompt")
    response = (
        _all_text(outputs, "text") or _event_text(span, "output") or _indexed(span, "completion")
    )
    reasoning = _all_text(outputs, "reasoning") or None
    requested = [_requested_tool(part) for part in _parts(outputs, "tool_call")]
    context = {
        "otel.trace_id": span.trace_id,
        "otel.span_id": span.span_id,
        **{
            name: str(value)
            for name in (
                "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system",
                "gen_ai.agent.name", "gen_ai.response.id", "service.name",
            )
            if (value := span.attribute(name)) is not None
        },
    }  # fmt: skip
    return {
        "event_id": span_event_id(span.trace_id, span.span_id),
        "session_id": session,
        "agent_id": agent_id,
        "agent_version": str(
            span.attribute("service.version", "gen_ai.agent.version") or "unknown"
        ),
        "model": str(span.attribute("gen_ai.request.model", "gen_ai.response.model") or "unknown"),
        "event_time": span.end_unix_nano // 1_000_000,
        "prompt": prompt or "",
        "response": response or "",
        "reasoning": reasoning,
        "latency_ms": max(0, (span.end_unix_nano - span.start_unix_nano) // 1_000_000),
        "prompt_tokens": _int(
            span.attribute("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
        ),
        "completion_tokens": _int(
            span.attribute("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
        ),
        "tools_used": _merge_tools(requested, tools),
        "context": context,
        "user_id": _text_or_none(span.attribute("user.id", "enduser.id")),
    }


def _tool_calls_by_turn(
    turns: list[OtlpSpan], tools: list[OtlpSpan], mapping: SpanMapping
) -> dict[str, list[dict[str, Any]]]:
    """execute_tool spans under the turn that is their parent, else the latest turn of their
    trace that started before them (agents run tools between two model calls)."""
    by_turn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = {span.span_id for span in turns}
    for tool in sorted(tools, key=lambda span: span.start_unix_nano):
        if tool.parent_span_id in ids:
            owner: str | None = tool.parent_span_id
        else:
            earlier = [
                t for t in turns
                if t.trace_id == tool.trace_id and t.start_unix_nano <= tool.start_unix_nano
            ]  # fmt: skip
            owner = earlier[-1].span_id if earlier else None
        if owner is None:
            mapping.orphan_tool_spans += 1
            continue
        arguments = tool.attribute("gen_ai.tool.call.arguments")
        by_turn[owner].append(
            {
                "id": tool.attribute("gen_ai.tool.call.id"),
                "name": str(tool.attribute("gen_ai.tool.name") or tool.name),
                "arguments": _json_value(arguments) if arguments is not None else None,
                "status": "error" if tool.error else "ok",
                "latency_ms": max(0, (tool.end_unix_nano - tool.start_unix_nano) // 1_000_000),
            }
        )
    return by_turn


def _merge_tools(
    requested: list[dict[str, Any]], executed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Tool calls the model asked for, completed by the execute_tool span of the same call id."""
    by_id = {call["id"]: call for call in executed if call.get("id")}
    merged = []
    for call in requested:
        ran = by_id.pop(call["id"], None) if call.get("id") else None
        if ran is not None:  # what was asked, and how its run went
            ran = {
                **ran,
                "arguments": call["arguments"] if ran["arguments"] is None else ran["arguments"],
            }
        merged.append(_tool(ran or call))
    merged.extend(_tool(call) for call in executed if call.get("id") in by_id or not call.get("id"))
    return merged


def _tool(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": call["name"],
        "arguments": {} if call.get("arguments") is None else call["arguments"],
        "status": call.get("status", "ok"),
        "latency_ms": call.get("latency_ms", 0),
    }


def _requested_tool(part: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": part.get("id"),
        "name": str(part.get("name") or "unknown_tool"),
        "arguments": _json_value(part.get("arguments", {})),
    }


def _feedback(span: OtlpSpan, turn_ids: dict[tuple[str, str], str]) -> list[MappedEvent]:
    """Feedback on a span: `feedback` events on it, or the span itself (`feedback.kind`)."""
    found: list[MappedEvent] = []
    sources: list[tuple[dict[str, Any], int, str]] = [
        (event.attributes, event.time_unix_nano, f"#feedback{i}")
        for i, event in enumerate(span.events)
        if event.name == "feedback"
    ]
    if "feedback.kind" in span.attributes:
        sources.append((span.attributes, span.end_unix_nano, "#feedback"))
    for attributes, time_ns, suffix in sources:
        on_turn = turn_ids.get((span.trace_id, span.span_id)) if suffix != "#feedback" else None
        target = on_turn or _linked_turn(span)
        fields = {
            name: attributes[f"feedback.{name}"]
            for name in _FEEDBACK_FIELDS
            if f"feedback.{name}" in attributes
        }
        fields.update(
            event_id=span_event_id(span.trace_id, span.span_id, suffix),
            session_id=session_of(span, span.links[0][0] if span.links else None),
            interaction_id=target,
            event_time=time_ns // 1_000_000,
        )
        found.append(MappedEvent("feedback", fields, f"{span.trace_id}/{span.span_id}"))
    return found


def _linked_turn(span: OtlpSpan) -> str | None:
    return span_event_id(*span.links[0]) if span.links else None


# -- messages (gen_ai.input.messages / gen_ai.output.messages, and older forms) -----------------


def _messages(value: Any) -> list[dict[str, Any]]:
    value = _json_value(value) if isinstance(value, str) else value
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _parts(messages: list[dict[str, Any]], part_type: str) -> list[dict[str, Any]]:
    found = []
    for message in messages:
        for part in message.get("parts") or []:
            if isinstance(part, dict) and part.get("type") == part_type:
                found.append(part)
    return found


def _message_text(message: dict[str, Any], part_type: str = "text") -> str:
    if isinstance(message.get("content"), str) and part_type == "text":  # older flat form
        return str(message["content"])
    return "\n".join(
        str(part.get("content", ""))
        for part in message.get("parts") or []
        if isinstance(part, dict) and part.get("type") == part_type
    )


def _last_text(messages: list[dict[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role:
            return _message_text(message)
    return _message_text(messages[-1]) if messages else ""


def _all_text(messages: list[dict[str, Any]], part_type: str) -> str:
    return "\n".join(t for m in messages if (t := _message_text(m, part_type)))


def _event_text(span: OtlpSpan, direction: str) -> str:
    """Span events of the earlier conventions: gen_ai.user.message / gen_ai.choice, and
    gen_ai.content.prompt / gen_ai.content.completion."""
    names = (
        {"gen_ai.user.message": "content", "gen_ai.content.prompt": "gen_ai.prompt"}
        if direction == "input"
        else {"gen_ai.choice": "message", "gen_ai.content.completion": "gen_ai.completion"}
    )
    texts = []
    for event in span.events:
        key = names.get(event.name)
        if key is None:
            continue
        value = event.attributes.get(key, event.attributes.get("content"))
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None:
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts[-1] if direction == "input" and texts else "\n".join(texts)


def _indexed(span: OtlpSpan, prefix: str) -> str:
    """`gen_ai.prompt` / `gen_ai.completion`, or the indexed `gen_ai.prompt.<i>.content` form."""
    plain = span.attributes.get(f"gen_ai.{prefix}")
    if isinstance(plain, str):
        return plain
    contents = sorted(
        (int(key.split(".")[2]), value)
        for key, value in span.attributes.items()
        if key.startswith(f"gen_ai.{prefix}.")
        and key.endswith(".content")
        and key.split(".")[2].isdigit()
    )
    if not contents:
        return ""
    return str(contents[-1][1]) if prefix == "prompt" else "\n".join(str(v) for _, v in contents)


def _json_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int(value: Any) -> int:
    return value if type(value) is int else 0


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
