"""POST /v1/traces: the OTLP/HTTP receiver (protobuf or JSON), GenAI spans to events.

Answers as the OTLP specification asks of a server: 200 with an ExportTraceServiceResponse in
the request's encoding, `partial_success` naming how many GenAI spans broke the contract (they
are dropped: an exporter must not retry them); 429 and 503 with Retry-After, which exporters
retry; 400 for a body that is not an export request; 415 for another content type.
"""

from typing import Any

from aiohttp import web

from gateway.bodies import read_body
from gateway.contract import EventKind
from gateway.genai import map_spans
from gateway.handling import KEY, STATE, error_response, prepare_all, store
from gateway.keys import ApiKey
from gateway.otlp import OtlpDecodeError, decode_request, encode_response, spans_of

__all__ = ["receive_traces"]

_TYPES = {
    "application/x-protobuf": "application/x-protobuf",
    "application/json": "application/json",
}


async def receive_traces(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    content_type = _TYPES.get(request.content_type)
    if content_type is None:
        return error_response(415, "send application/x-protobuf or application/json")
    body = await read_body(request, state.settings.body_timeout_s)
    try:
        export = decode_request(body, content_type)
    except OtlpDecodeError as exc:
        return error_response(400, str(exc))
    key: ApiKey = request[KEY]
    mapping = map_spans(spans_of(export), key.agent_id)
    if len(mapping.events) > state.settings.max_events_per_request:
        return error_response(
            413,
            f"{len(mapping.events)} GenAI events in one export; "
            f"at most {state.settings.max_events_per_request}",
        )
    state.limit(key, max(1, len(mapping.events)))
    items: list[tuple[EventKind | None, Any]] = [
        ("interaction" if e.kind == "interaction" else "feedback", e.fields) for e in mapping.events
    ]
    prepared, rejected = prepare_all(state, key, items)
    status, answer = await store(state, prepared, rejected)
    if status == 503:
        return web.Response(
            status=503,
            headers={"Retry-After": str(state.settings.retry_after_s)},
            body=encode_response(content_type, 0, "kafka is down and the spool is full"),
            content_type=content_type,
        )
    message = "; ".join(
        f"span {mapping.events[r['index']].span}: {r['errors'][0]['message']}"
        for r in answer["rejected"][:10]
    )
    if mapping.orphan_tool_spans:
        message = (message + "; " if message else "") + (
            f"{mapping.orphan_tool_spans} execute_tool spans without their model call "
            "in the same export were dropped"
        )
    return web.Response(
        status=200,
        body=encode_response(
            content_type, len(answer["rejected"]) + mapping.orphan_tool_spans, message
        ),
        content_type=content_type,
    )
