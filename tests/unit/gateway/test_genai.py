"""GenAI spans to interactions and feedback: the mapping table of docs/gateway.md."""

import json
from typing import Any

from gateway.genai import map_spans, span_event_id
from gateway.otlp import OtlpSpan, SpanEvent

TRACE = "ab" * 16
MS = 1_000_000


def span(span_id: str, start_ms: int, end_ms: int, **attributes: Any) -> OtlpSpan:
    return OtlpSpan(
        trace_id=attributes.pop("trace_id", TRACE), span_id=span_id,
        parent_span_id=attributes.pop("parent", ""), name=attributes.pop("name", "span"),
        start_unix_nano=start_ms * MS, end_unix_nano=end_ms * MS,
        attributes=attributes, resource={"service.version": "3.1.0", "service.name": "bot"},
        events=attributes.pop("events", []) if "events" in attributes else [],
        links=[], error=False,
    )  # fmt: skip


def chat(span_id: str, start_ms: int, **attributes: Any) -> OtlpSpan:
    return span(
        span_id, start_ms, start_ms + 250,
        **{"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-large", **attributes},
    )  # fmt: skip


def test_newest_conventions_messages_usage_and_tool_calls() -> None:
    inputs = [
        {"role": "user", "parts": [{"type": "text", "content": "first question"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "first answer"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]},
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "look it up"},
                {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"id": 4}},
                {"type": "text", "content": "Tomorrow."},
            ],
        }
    ]
    turn = chat(
        "01" * 8, 1_000,
        **{
            "gen_ai.input.messages": json.dumps(inputs),
            "gen_ai.output.messages": json.dumps(outputs),
            "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 4,
            "gen_ai.conversation.id": "conv-9", "user.id": "u-1",
        },
    )  # fmt: skip
    tool = span(
        "02" * 8, 1_050, 1_150, parent="01" * 8,
        **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
           "gen_ai.tool.call.id": "c1"},
    )  # fmt: skip
    mapping = map_spans([tool, turn], "bot-agent")
    [event] = mapping.events
    fields = event.fields
    assert event.kind == "interaction"
    assert fields["event_id"] == span_event_id(TRACE, "01" * 8)
    assert fields["session_id"] == "conv-9"
    assert (fields["agent_id"], fields["agent_version"], fields["model"]) == (
        "bot-agent", "3.1.0", "acme-large",
    )  # fmt: skip
    assert (fields["prompt"], fields["response"], fields["reasoning"]) == (
        "Where is my order?", "Tomorrow.", "look it up",
    )  # fmt: skip
    assert (fields["prompt_tokens"], fields["completion_tokens"]) == (30, 4)
    assert (fields["latency_ms"], fields["event_time"], fields["user_id"]) == (250, 1_250, "u-1")
    assert fields["tools_used"] == [
        {"name": "lookup", "arguments": {"id": 4}, "status": "ok", "latency_ms": 100}
    ]
    assert fields["context"]["otel.trace_id"] == TRACE


def test_earlier_conventions_events_and_indexed_attributes() -> None:
    by_events = chat(
        "03" * 8, 0,
        events=[
            SpanEvent("gen_ai.user.message", 0, {"content": "hello?"}),
            SpanEvent("gen_ai.choice", 0, {"message": {"content": "hi!"}}),
        ],
    )  # fmt: skip
    indexed = chat(
        "04" * 8, 500,
        **{"gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "be brief",
           "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "2+2?",
           "gen_ai.completion.0.content": "4", "gen_ai.usage.prompt_tokens": 9},
    )  # fmt: skip
    first, second = map_spans([indexed, by_events], "a").events
    assert (first.fields["prompt"], first.fields["response"]) == ("hello?", "hi!")
    assert (second.fields["prompt"], second.fields["response"]) == ("2+2?", "4")
    assert second.fields["prompt_tokens"] == 9
    # No conversation attribute: the trace is the session; turns numbered by start time.
    assert first.fields["session_id"] == second.fields["session_id"] == TRACE
    assert (first.fields["turn_index"], second.fields["turn_index"]) == (0, 1)


def test_feedback_events_and_linked_feedback_spans() -> None:
    turn = chat("05" * 8, 0, events=[
        SpanEvent("feedback", 2_000 * MS, {"feedback.kind": "rating", "feedback.rating": 4}),
    ])  # fmt: skip
    later = OtlpSpan(
        trace_id="cd" * 16, span_id="06" * 8, parent_span_id="", name="user feedback",
        start_unix_nano=9_000 * MS, end_unix_nano=9_001 * MS,
        attributes={"feedback.kind": "thumbs", "feedback.thumbs_up": False},
        resource={}, events=[], links=[(TRACE, "05" * 8)],
    )  # fmt: skip
    mapping = map_spans([turn, later], "a")
    kinds = [(e.kind, e.fields.get("kind")) for e in mapping.events]
    assert kinds == [("interaction", None), ("feedback", "rating"), ("feedback", "thumbs")]
    turn_id = span_event_id(TRACE, "05" * 8)
    rating, thumbs = mapping.events[1].fields, mapping.events[2].fields
    assert (rating["interaction_id"], rating["rating"], rating["event_time"]) == (turn_id, 4, 2_000)
    assert (thumbs["interaction_id"], thumbs["thumbs_up"]) == (turn_id, False)
    assert thumbs["session_id"] == TRACE  # the linked turn's trace, as the turn's session


def test_other_spans_are_skipped_and_orphan_tools_counted() -> None:
    http = span("07" * 8, 0, 5, **{"http.method": "GET"})
    tool = span("08" * 8, 0, 5, **{"gen_ai.operation.name": "execute_tool"})
    mapping = map_spans([http, tool], "a")
    assert mapping.events == []
    assert (mapping.skipped_spans, mapping.orphan_tool_spans) == (1, 1)


def test_event_ids_are_stable_across_exports() -> None:
    turn = chat("09" * 8, 0)
    assert (
        map_spans([turn], "a").events[0].fields["event_id"]
        == (map_spans([turn], "a").events[0].fields["event_id"])
    )
