"""OTLP export requests as GenAI-instrumented agents send them, built with opentelemetry-proto."""

import base64
import json
import os
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["attribute", "chat_export", "otlp_json"]


def attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def chat_export(conversation: str, input_tokens: int = 12) -> ExportTraceServiceRequest:
    """One `chat` span (newest conventions: input/output messages with a tool call), the
    `execute_tool` span it led to, and thumbs-up feedback as a `feedback` event on the chat."""
    trace_id, chat_id, tool_id = os.urandom(16), os.urandom(8), os.urandom(8)
    end = time.time_ns() - 1_000_000_000
    start = end - 900_000_000
    inputs = [
        {"role": "system", "parts": [{"type": "text", "content": "You are helpful."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]},
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call-1", "name": "lookup_order",
                 "arguments": {"order": 42}},
                {"type": "text", "content": "It ships tomorrow."},
            ],
            "finish_reason": "stop",
        }
    ]  # fmt: skip
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [attribute("service.name", "support-bot"), attribute("service.version", "2.0.0")]
    )
    spans = resource_spans.scope_spans.add().spans
    chat = Span(
        trace_id=trace_id, span_id=chat_id, name="chat acme-large",
        start_time_unix_nano=start, end_time_unix_nano=end, kind=Span.SPAN_KIND_CLIENT,
    )  # fmt: skip
    chat.attributes.extend(
        [
            attribute("gen_ai.operation.name", "chat"),
            attribute("gen_ai.provider.name", "acme"),
            attribute("gen_ai.request.model", "acme-large"),
            attribute("gen_ai.conversation.id", conversation),
            attribute("gen_ai.usage.input_tokens", input_tokens),
            attribute("gen_ai.usage.output_tokens", 7),
            attribute("gen_ai.input.messages", json.dumps(inputs)),
            attribute("gen_ai.output.messages", json.dumps(outputs)),
        ]
    )
    feedback = chat.events.add(name="feedback", time_unix_nano=end + 500_000_000)
    feedback.attributes.extend(
        [attribute("feedback.kind", "thumbs"), attribute("feedback.thumbs_up", True)]
    )
    tool = Span(
        trace_id=trace_id, span_id=tool_id, parent_span_id=chat_id, name="execute_tool",
        start_time_unix_nano=start + 100_000_000, end_time_unix_nano=start + 300_000_000,
    )  # fmt: skip
    tool.attributes.extend(
        [
            attribute("gen_ai.operation.name", "execute_tool"),
            attribute("gen_ai.tool.name", "lookup_order"),
            attribute("gen_ai.tool.call.id", "call-1"),
        ]
    )
    spans.extend([chat, tool])
    return request


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON: the protobuf JSON mapping with hex trace and span ids."""
    document = json_format.MessageToDict(request)

    def hexify(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    hexify(value)
        elif isinstance(node, list):
            for item in node:
                hexify(item)

    hexify(document)
    return json.dumps(document).encode("utf-8")
