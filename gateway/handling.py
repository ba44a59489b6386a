"""What every route shares: the gateway's state, per-event checks and the batch answer."""

import logging
import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from aiohttp import web

from gateway.contract import EventContract, EventKind, PreparedEvent
from gateway.delivery import EventWriter
from gateway.keys import ApiKey, KeyFile
from gateway.limits import RateLimiter
from gateway.metrics import GatewayMetrics
from gateway.models import AcceptedEvent, BatchAnswer, RejectedEvent, UnavailableEvent
from gateway.openapi import openapi_document
from gateway.settings import GatewaySettings
from producers.client import ProducerTopics
from schemas.exceptions import InvalidRecordError

__all__ = [
    "KEY",
    "STATE",
    "GatewayState",
    "error_response",
    "json_response",
    "prepare_all",
    "store",
]

log = logging.getLogger(__name__)

STATE: web.AppKey["GatewayState"] = web.AppKey("gateway_state")
KEY: str = "gateway_api_key"


class GatewayState:
    """What every request uses: settings, contract, keys, limits and the writer."""

    def __init__(self, settings: GatewaySettings, writer: EventWriter) -> None:
        self.settings = settings
        self.writer = writer
        self.contract = EventContract(
            ProducerTopics.in_namespace(settings.topic_namespace),
            max_text_bytes=settings.max_text_bytes,
            max_event_bytes=settings.max_event_bytes,
            max_future_skew_s=settings.max_future_skew_s,
        )
        self.keys = KeyFile(settings.keys_file)
        self.limiter = RateLimiter(settings.rate_limit_events_per_s, settings.rate_limit_burst)
        self.openapi = orjson.dumps(openapi_document(_version()))
        self.metrics = GatewayMetrics(writer.ready, writer.spooled_bytes)

    def limit(self, key: ApiKey, events: int) -> None:
        """Spend `events` of the key's rate; 429 with Retry-After when it has not that many."""
        wait_s = self.limiter.take(key.key_id, events, key.rate_per_s, key.burst)
        if wait_s:
            retry = "3600" if math.isinf(wait_s) else str(max(1, math.ceil(wait_s)))
            raise web.HTTPTooManyRequests(
                body=orjson.dumps({"error": f"rate limit of key {key.key_id}; retry later"}),
                content_type="application/json",
                headers={"Retry-After": retry},
            )


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"error": message}, status, headers)


def prepare_all(
    state: GatewayState, key: ApiKey, items: list[tuple[EventKind | None, Any]]
) -> tuple[list[tuple[int, PreparedEvent]], list[RejectedEvent]]:
    """Check and encode each event; the good ones by index, and the errors of the others."""
    prepared: list[tuple[int, PreparedEvent]] = []
    rejected: list[RejectedEvent] = []
    for index, (kind, fields) in enumerate(items):
        try:
            if kind is None:
                raise InvalidRecordError(
                    "`type` must be one of interaction, feedback, signal", "type"
                )
            if kind == "interaction" and isinstance(fields, dict):
                agent = fields.get("agent_id")
                if agent is not None and agent != key.agent_id:
                    raise InvalidRecordError(
                        f"agent_id={agent!r} is not the agent of this API key ({key.agent_id!r})",
                        "agent_id",
                    )
            prepared.append((index, state.contract.prepare(kind, fields)))
        except InvalidRecordError as exc:
            rejected.append(_rejected(index, fields, exc.field, str(exc)))
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            # The checks name every fault they know; anything else the builders or the encoder
            # trip over is still this event's fault, not a server error.
            log.warning("event %d refused by an unexpected %r", index, exc)
            rejected.append(_rejected(index, fields, None, f"the event cannot be encoded: {exc}"))
    return prepared, rejected


def _rejected(index: int, fields: Any, field: str | None, message: str) -> RejectedEvent:
    event_id = fields.get("event_id") if isinstance(fields, dict) else None
    return {
        "index": index,
        "event_id": event_id if isinstance(event_id, str) else None,
        "errors": [{"field": field, "message": message}],
    }


async def store(
    state: GatewayState, prepared: list[tuple[int, PreparedEvent]], rejected: list[RejectedEvent]
) -> tuple[int, BatchAnswer]:
    """Write the good events; the status and answer of the batch."""
    outcomes = await state.writer.write([event for _, event in prepared])
    accepted: list[AcceptedEvent] = []
    unavailable: list[UnavailableEvent] = []
    for (index, event), where in zip(prepared, outcomes, strict=True):
        if where == "unavailable":
            unavailable.append({"index": index, "event_id": event.event_id})
        else:
            accepted.append({"index": index, "event_id": event.event_id, "stored": where})
    counted = state.metrics.events
    counted.labels("rejected").inc(len(rejected))
    counted.labels("unavailable").inc(len(unavailable))
    for where in ("kafka", "spool"):
        counted.labels(where).inc(sum(1 for item in accepted if item["stored"] == where))
    status = 503 if unavailable else 400 if rejected else 202
    return status, {"accepted": accepted, "rejected": rejected, "unavailable": unavailable}


def _version() -> str:
    try:
        return version("agent-feedback-pipeline")
    except PackageNotFoundError:
        return "0.0.0"
