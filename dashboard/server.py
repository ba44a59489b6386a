"""The dashboard's web service: the page, its JSON and event-stream API, health and /metrics.

Routes (documented in docs/dashboard.md):
  GET /             the page (static HTML + JS + CSS shipped in the package, no CDN)
  GET /api/metrics  the snapshot as JSON (`?range=15m|1h|6h|24h|all`, default `default_range`)
  GET /api/stream   the same snapshot as server-sent events, pushed on every change (`?range=`)
  GET /healthz      200 while the feed thread runs, 503 when it died
  GET /metrics      Prometheus text format of the dashboard's own series

aiohttp is the web framework: faust-streaming already depends on it, so the dashboard adds no
new package to the install, and it serves static files and streaming responses on its own.
"""

import asyncio
import contextlib
import json
import logging
import math
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from dashboard.exceptions import DashboardError
from dashboard.feed import MetricsFeed
from dashboard.live import LiveState
from dashboard.settings import DashboardSettings
from dashboard.state import RANGES, DashboardState
from dashboard.telemetry import DashboardTelemetry

__all__ = ["API_VERSION", "create_app", "payload", "run_dashboard"]

log = logging.getLogger(__name__)

API_VERSION = 1
# The stream re-sends the snapshot at least this often, so feed status and proxies stay fresh.
_KEEPALIVE_S = 15.0

SETTINGS = web.AppKey("settings", DashboardSettings)
LIVE = web.AppKey("live", LiveState)
FEED = web.AppKey("feed", MetricsFeed)
TELEMETRY = web.AppKey("telemetry", DashboardTelemetry)
STOPPING = web.AppKey("stopping", asyncio.Event)


def static_dir() -> Path:
    """The page's files, shipped as package data."""
    path = Path(str(files("dashboard") / "static"))
    if not (path / "index.html").is_file():
        raise DashboardError(
            f"the dashboard's page is missing from {path}: the package was installed without its "
            "data files (pyproject.toml [tool.setuptools.package-data]); reinstall it"
        )
    return path


def payload(live: LiveState, feed: MetricsFeed, range_name: str) -> dict[str, Any]:
    """The body of /api/metrics and of every stream event, for one of `RANGES`."""
    return {
        "api_version": API_VERSION,
        "generated_at_ms": int(time.time() * 1000),
        "topics": {
            "metrics": feed.metrics_topic,
            "dead_letters": feed.dead_letter_topic,
            "alerts": feed.alerts_topic,
            "release_impacts": feed.release_impact_topic,
        },
        **live.snapshot(range_name),
        "feed": feed.status.as_dict(),
    }


class EncodedPayload:
    """The payload of each range as JSON text, encoded at most once per push interval for all
    clients.

    A snapshot of a busy hour is a few hundred KiB of JSON (milliseconds to encode): with many
    open streams, encoding it per client would cost more than everything else together.
    """

    def __init__(self, live: LiveState, feed: MetricsFeed, max_age_s: float) -> None:
        self.live, self.feed, self.max_age_s = live, feed, max_age_s
        # range -> (snapshot cache key, encoded at (monotonic), JSON text)
        self._texts: dict[str, tuple[tuple[int, int], float, str]] = {}

    def get(self, range_name: str) -> tuple[int, str]:
        """(state version, JSON text), fresh when the snapshot changed or the text aged out."""
        now = time.monotonic()
        key = self.live.cache_key()
        cached = self._texts.get(range_name)
        if cached is None or cached[0] != key or now - cached[1] >= self.max_age_s:
            body = payload(self.live, self.feed, range_name)
            cached = (key, now, _to_json(body))
            self._texts[range_name] = cached
        return cached[0][0], cached[2]


ENCODED = web.AppKey("encoded", EncodedPayload)


def create_app(
    settings: DashboardSettings,
    registry: CollectorRegistry = REGISTRY,
    start_feed: bool = True,
) -> web.Application:
    """The web application; its feed thread starts and stops with it."""
    app = web.Application()
    telemetry = DashboardTelemetry(registry)
    live = LiveState(DashboardState(lookback_s=settings.lookback_s, max_alerts=settings.max_alerts))
    app[SETTINGS] = settings
    app[TELEMETRY] = telemetry
    app[LIVE] = live
    app[FEED] = MetricsFeed(settings, live, telemetry)
    app[STOPPING] = asyncio.Event()
    app[ENCODED] = EncodedPayload(live, app[FEED], settings.push_interval_s)

    app.router.add_get("/", _index)
    app.router.add_get("/api/metrics", _metrics_json)
    app.router.add_get("/api/stream", _stream)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _prometheus)
    app.router.add_static("/static/", static_dir(), name="static")

    async def start(app: web.Application) -> None:
        if start_feed:
            app[FEED].start()

    async def stop_streams(app: web.Application) -> None:
        app[STOPPING].set()

    async def stop_feed(app: web.Application) -> None:
        await asyncio.to_thread(app[FEED].stop)

    app.on_startup.append(start)
    app.on_shutdown.append(stop_streams)
    app.on_cleanup.append(stop_feed)
    return app


def run_dashboard(settings: DashboardSettings) -> None:
    """Serve until interrupted (the `feedbackctl dashboard` command)."""
    log.info(
        "dashboard on http://%s:%d reading %s",
        settings.host,
        settings.port,
        settings.bootstrap_servers,
        extra={"namespace": settings.namespace or None},
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=5,
    )


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_dir() / "index.html", headers={"Cache-Control": "no-cache"})


def _range(request: web.Request) -> str:
    """The `range` query parameter, or the configured default; anything else is a 400."""
    name = request.query.get("range") or request.app[SETTINGS].default_range
    if name not in RANGES:
        raise web.HTTPBadRequest(
            text=f"unknown range {name!r}: one of {', '.join(RANGES)}", content_type="text/plain"
        )
    return name


async def _metrics_json(request: web.Request) -> web.Response:
    _version, body = request.app[ENCODED].get(_range(request))
    return web.Response(text=body, content_type="application/json")


async def _health(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    healthy = feed.alive or (not feed.status.running and feed.status.last_error is None)
    body = {"status": "ok" if healthy else "feed stopped", "feed": feed.status.as_dict()}
    return web.Response(
        text=_to_json(body), status=200 if healthy else 503, content_type="application/json"
    )


async def _prometheus(request: web.Request) -> web.Response:
    # OpenMetrics when the scraper asks for it (Accept), else the classic text format.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    output = encoder(request.app[TELEMETRY].registry)
    return web.Response(body=output, headers={"Content-Type": content_type})


async def _stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `event: snapshot`, `id:` the state version, `data:` the JSON body."""
    app = request.app
    range_name = _range(request)
    live, encoded, stopping = app[LIVE], app[ENCODED], app[STOPPING]
    interval = app[SETTINGS].push_interval_s
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # no buffering by nginx-like proxies
        }
    )
    await response.prepare(request)
    app[TELEMETRY].sse_clients.inc()
    try:
        await response.write(b"retry: 2000\n\n")
        sent_key, sent_at = (-1, -1), 0.0
        while not stopping.is_set():
            now = time.monotonic()
            key = live.cache_key()
            if key != sent_key or now - sent_at >= _KEEPALIVE_S:
                version, text = encoded.get(range_name)
                await response.write(f"id: {version}\nevent: snapshot\ndata: {text}\n\n".encode())
                sent_key, sent_at = key, now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=interval)
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    finally:
        app[TELEMETRY].sse_clients.dec()
    return response


def _to_json(body: Any) -> str:
    """JSON that browsers parse: NaN and infinities (legal in Avro doubles) become null."""
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(body), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
