"""An agent instrumented with OpenTelemetry's GenAI conventions, exporting to the feedback gateway.

Nothing of the pipeline is imported: this is the OpenTelemetry SDK and its OTLP/HTTP exporter,
pointed at the gateway's /v1/traces with an API key. Each `chat` span becomes an interaction
of the conversation (`gen_ai.conversation.id`), the `execute_tool` span a tool call of the turn
that asked for it, and the `feedback` event on a chat span the user's feedback on that turn.

    GATEWAY_URL=http://127.0.0.1:8070 GATEWAY_API_KEY=fbk_... python examples/otel/send_traces.py

Needs `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`.
"""

import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer


class CheckedExporter(SpanExporter):
    """The OTLP exporter, remembering whether every export succeeded (to exit non-zero)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.failures = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.exporter.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()


def turn(tracer: Tracer, conversation: str, question: str, answer: str, tool: str | None) -> None:
    """One model call (and the tool it asked for), as a GenAI instrumentation records it."""
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    output: list[dict[str, Any]] = [
        {"role": "assistant", "parts": [{"type": "text", "content": answer}]}
    ]
    if tool:
        output[0]["parts"].insert(
            0, {"type": "tool_call", "id": call_id, "name": tool, "arguments": {"order": 42}}
        )
    with tracer.start_as_current_span("chat acme-llm-large", kind=SpanKind.CLIENT) as chat:
        chat.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "acme",
                "gen_ai.request.model": "acme-llm-large",
                "gen_ai.conversation.id": conversation,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                ),
                "gen_ai.output.messages": json.dumps(output),
                "gen_ai.usage.input_tokens": 20,
                "gen_ai.usage.output_tokens": 12,
            }
        )
        if tool:
            with tracer.start_as_current_span(f"execute_tool {tool}") as run:
                run.set_attributes(
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": tool,
                        "gen_ai.tool.call.id": call_id,
                    }
                )
                time.sleep(0.02)
                run.set_status(Status(StatusCode.OK))
        time.sleep(0.05)
        if not tool:  # the user liked the final answer
            chat.add_event("feedback", {"feedback.kind": "thumbs", "feedback.thumbs_up": True})


def main() -> int:
    url = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8070")
    key = os.environ.get("GATEWAY_API_KEY")
    if not key:
        print("set GATEWAY_API_KEY (feedbackctl gateway keys add --agent ...)", file=sys.stderr)
        return 2
    conversation = os.environ.get("SESSION_ID", f"otel-{uuid.uuid4().hex[:12]}")
    exporter = CheckedExporter(
        OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"})
    )
    provider = TracerProvider(
        resource=Resource.create({"service.name": "otel-support-bot", "service.version": "0.9.1"})
    )
    # Batched, as in production: a trace's spans usually travel in one export, so each tool
    # span finds the model call it belongs to.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("support-bot")
    with tracer.start_as_current_span("invoke_agent support-bot") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        turn(tracer, conversation, "Where is my order 42?", "Let me check.", "lookup_order")
        turn(tracer, conversation, "And when?", "It ships tomorrow.", None)
    provider.shutdown()
    print(json.dumps({"session_id": conversation, "failed_exports": exporter.failures}))
    return 1 if exporter.failures else 0


if __name__ == "__main__":
    sys.exit(main())
