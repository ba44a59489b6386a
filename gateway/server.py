"""Run the gateway: the writer (Kafka + spool), the aiohttp server, a clean stop on SIGTERM."""

import asyncio
import logging
import signal

from aiohttp import web

from gateway.app import build_app
from gateway.delivery import EventWriter
from gateway.settings import GatewaySettings

__all__ = ["run_gateway", "serve"]

log = logging.getLogger(__name__)


async def serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; then finish the requests in progress and close the writer
    (queued events are delivered, or spooled for the next start)."""
    writer = EventWriter(settings)
    runner = web.AppRunner(
        build_app(settings, writer),
        keepalive_timeout=settings.keepalive_timeout_s,
        access_log=None,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        await site.start()
        log.info(
            "gateway listening on http://%s:%d (topics%s, keys in %s)",
            settings.host,
            settings.port,
            f" .{settings.topic_namespace}" if settings.topic_namespace else "",
            settings.keys_file,
        )
        await stop.wait()
    finally:
        await runner.cleanup()
        await asyncio.to_thread(writer.close)


def run_gateway(settings: GatewaySettings) -> None:
    """Blocking: serve on uvloop when it is installed, until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(main())
    else:
        uvloop.run(main())
