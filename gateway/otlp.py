"""OTLP/HTTP trace payloads, protobuf or JSON, decoded with `opentelemetry-proto`.

OTLP/JSON is the protobuf JSON mapping except for trace and span ids, which are hex instead of
base64 (OTLP specification, "JSON Protobuf Encoding"): they are converted before
`google.protobuf.json_format` parses the document. Attribute values come out as plain Python
values (`AnyValue` -> str, bool, int, float, bytes, list or dict).
"""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from opentelemetry.proto.trace.v1.trace_pb2 import Status

__all__ = [
    "OtlpDecodeError",
    "OtlpSpan",
    "SpanEvent",
    "decode_request",
    "encode_response",
    "spans_of",
]

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpDecodeError(ValueError):
    """The body is not an OTLP ExportTraceServiceRequest."""


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class OtlpSpan:
    """One span with its resource's attributes beside its own, ids as lowercase hex."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_unix_nano: int
    end_unix_nano: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[SpanEvent] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace_id, span_id)
    error: bool = False

    def attribute(self, *names: str) -> Any:
        """The first of `names` set on the span, else on its resource; None when neither."""
        for name in names:
            if name in self.attributes:
                return self.attributes[name]
        for name in names:
            if name in self.resource:
                return self.resource[name]
        return None


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse an export request; `content_type` application/json or application/x-protobuf."""
    request = ExportTraceServiceRequest()
    try:
        if content_type == "application/json":
            document = json.loads(body)
            _hex_ids_to_base64(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise OtlpDecodeError(f"not an OTLP trace export request: {exc}") from None
    return request


def encode_response(content_type: str, rejected_spans: int = 0, message: str = "") -> bytes:
    """An ExportTraceServiceResponse (partial_success when spans were rejected)."""
    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = message
    if content_type == "application/json":
        return json_format.MessageToJson(response, indent=None).encode("utf-8")
    return response.SerializeToString()


def spans_of(request: ExportTraceServiceRequest) -> Iterator[OtlpSpan]:
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _span(span, resource)


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: any_value(pair.value) for pair in value.kvlist_value.values}
    return getattr(value, kind)


def _span(span: SpanProto, resource: dict[str, Any]) -> OtlpSpan:
    return OtlpSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        name=span.name,
        start_unix_nano=span.start_time_unix_nano,
        end_unix_nano=span.end_time_unix_nano,
        attributes=attributes_of(span.attributes),
        resource=resource,
        events=[
            SpanEvent(event.name, event.time_unix_nano, attributes_of(event.attributes))
            for event in span.events
        ],
        links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
        error=span.status.code == Status.STATUS_CODE_ERROR,
    )


def _hex_ids_to_base64(node: Any) -> None:
    """In place: OTLP/JSON's hex ids to the base64 the protobuf JSON mapping expects."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)
