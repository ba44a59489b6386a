"""The gateway's aiohttp application: routes, API keys, rate limits, per-event answers."""

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.bodies import BodyError, read_body, read_json
from gateway.contract import EventKind
from gateway.delivery import EventWriter
from gateway.handling import (
    KEY,
    STATE,
    GatewayState,
    error_response,
    json_response,
    prepare_all,
    store,
)
from gateway.keys import ApiKey
from gateway.otlp_route import receive_traces
from gateway.settings import GatewaySettings

__all__ = ["build_app"]

_PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json", "/metrics"})
_KIND_ROUTES: dict[str, EventKind] = {
    "/v1/interactions": "interaction",
    "/v1/feedback": "feedback",
    "/v1/signals": "signal",
}


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """API key on every route but the public ones; body errors as JSON answers."""
    state = request.app[STATE]
    answer: web.StreamResponse | web.HTTPException
    try:
        if request.path not in _PUBLIC and not _authenticated(request, state):
            answer = error_response(
                401,
                "missing or wrong API key (Authorization: Bearer <key>, or X-API-Key)",
                {"WWW-Authenticate": 'Bearer realm="feedback-gateway"'},
            )
        else:
            answer = await handler(request)
    except BodyError as exc:
        answer = error_response(exc.status, exc.message)
    except web.HTTPRequestEntityTooLarge:
        answer = error_response(
            413, f"the body is larger than {state.settings.max_body_bytes} bytes"
        )
    except web.HTTPException as exc:
        answer = exc
    route = request.match_info.route.resource
    state.metrics.answers.labels(
        route.canonical if route is not None else "other", str(answer.status)
    ).inc()
    if isinstance(answer, web.HTTPException):
        raise answer
    return answer


def _authenticated(request: web.Request, state: GatewayState) -> bool:
    presented = _presented_key(request)
    key = state.keys.verify(presented) if presented else None
    if key is not None:
        request[KEY] = key
    return key is not None


def _presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-API-Key")


async def _events(request: web.Request) -> web.Response:
    """POST /v1/events and the per-kind routes."""
    state = request.app[STATE]
    settings = state.settings
    document = read_json(await read_body(request, settings.body_timeout_s), settings.max_json_depth)
    route_kind = _KIND_ROUTES.get(request.path)
    if route_kind is not None and isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        return error_response(400, "the body must be a JSON array of events")
    if len(document) > settings.max_events_per_request:
        return error_response(
            413, f"{len(document)} events; at most {settings.max_events_per_request}"
        )
    key: ApiKey = request[KEY]
    state.limit(key, max(1, len(document)))
    items: list[tuple[EventKind | None, Any]]
    if route_kind is not None:
        items = [(route_kind, item) for item in document]
    else:
        items = [_typed(item) for item in document]
    prepared, rejected = prepare_all(state, key, items)
    status, answer = await store(state, prepared, rejected)
    headers = {"Retry-After": str(settings.retry_after_s)} if status == 503 else None
    return json_response(answer, status, headers)


def _typed(item: Any) -> tuple[EventKind | None, Any]:
    if not isinstance(item, dict):
        return "interaction", item  # refused by the contract as "not a JSON object"
    kind = item.pop("type", None)  # the parsed body is ours to change
    return (kind if kind in ("interaction", "feedback", "signal") else None), item


async def _healthz(request: web.Request) -> web.Response:
    if request.app[STATE].writer.fatal:
        return json_response({"status": "the Kafka producer failed fatally: restart"}, 503)
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    writer = request.app[STATE].writer
    ready = writer.ready()
    body = {"kafka": "up" if ready else "down", "spooled_bytes": writer.spooled_bytes()}
    return json_response(body, 200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[STATE].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[STATE].openapi, content_type="application/json")


def build_app(settings: GatewaySettings, writer: EventWriter) -> web.Application:
    """The application; the caller owns the writer (and closes it after the server)."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[_guard])
    app[STATE] = GatewayState(settings, writer)
    app.router.add_post("/v1/events", _events)
    for route in _KIND_ROUTES:
        app.router.add_post(route, _events)
    app.router.add_post("/v1/traces", receive_traces)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/openapi.json", _openapi)
    app.router.add_get("/metrics", _metrics)
    return app
