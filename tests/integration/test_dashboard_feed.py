"""The dashboard against the real broker: it reads what is produced and serves it."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from dashboard.server import create_app
from dashboard.settings import DashboardSettings
from schemas.topics import ALERTS, DEADLETTER, METRICS, RELEASE_IMPACT
from tests.unit.dashboard.kafka_io import free_port, namespace_topics, produce, two_hours_ago_ms
from tests.unit.dashboard.records import (
    MINUTE_MS,
    START_MS,
    alert_record,
    dead_letter_record,
    metric_record,
    release_impact_record,
)


@pytest.fixture()
async def dashboard(bootstrap_servers: str) -> AsyncIterator[tuple[str, str]]:
    """(base url, namespace) of a dashboard serving a fresh namespace, with its feed running."""
    with namespace_topics(bootstrap_servers) as namespace:
        # Before the dashboard starts, stamped with (old) event time: reached by the backfill.
        produce(
            bootstrap_servers,
            METRICS.in_namespace(namespace),
            [metric_record(0, interactions=10), metric_record(1, interactions=30)],
            timestamp_ms=two_hours_ago_ms(),
        )
        settings = DashboardSettings(
            host="127.0.0.1",
            port=free_port(),
            bootstrap_servers=bootstrap_servers,
            namespace=namespace,
            group_id=f"dashboard-{namespace}",
            push_interval_s=0.2,
        )
        runner = web.AppRunner(create_app(settings, registry=CollectorRegistry()))
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        try:
            yield f"http://{settings.host}:{settings.port}", namespace
        finally:
            await runner.cleanup()


async def _wait_for(
    session: aiohttp.ClientSession, url: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll /api/metrics until `check` holds; fail after 30 s."""
    body: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with session.get(f"{url}/api/metrics") as response:
            body = await response.json()
        if check(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"dashboard never showed the expected data; last body: {body}")


def _interactions(body: dict[str, Any]) -> int | None:
    return body["agents"][0]["summary"]["interactions"] if body["agents"] else None


async def test_dashboard_serves_what_the_topics_carry(
    dashboard: tuple[str, str], bootstrap_servers: str
) -> None:
    url, namespace = dashboard
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        body = await _wait_for(session, url, lambda b: _interactions(b) == 40)
        assert body["feed"]["connected"] is True
        assert body["event_time"]["horizon_end_ms"] == START_MS + 2 * MINUTE_MS

        # Live updates: a running update of a new window, then its final record, a duplicate of
        # the final, an unreadable message, dead letters and an alert.
        metrics = METRICS.in_namespace(namespace)
        produce(bootstrap_servers, metrics, [metric_record(2, interactions=3, is_final=False)])
        await _wait_for(session, url, lambda b: _interactions(b) == 43)
        final = metric_record(2, interactions=5, is_final=True, update_seq=1)
        produce(bootstrap_servers, metrics, [final, final], raw=[b"not avro"])
        produce(
            bootstrap_servers,
            DEADLETTER.in_namespace(namespace),
            [dead_letter_record("too_late", 1), dead_letter_record("undecodable", 2)],
        )
        produce(bootstrap_servers, ALERTS.in_namespace(namespace), [alert_record(2)])

        body = await _wait_for(
            session,
            url,
            lambda b: _interactions(b) == 45 and b["dead_letters"]["total"] == 2 and b["alerts"],
        )
        assert body["dead_letters"]["by_reason"] == {"too_late": 1, "undecodable": 1}
        assert body["alerts"][0]["alert_id"] == alert_record(2)["alert_id"]
        summary = body["agents"][0]["summary"]
        assert (summary["windows"], summary["final_windows"]) == (3, 3)
        assert body["feed"]["decode_errors"] == 1

        async with session.get(f"{url}/metrics") as response:
            text = await response.text()
        metrics_topic = metrics.name
        assert f'feedback_dashboard_records_in_total{{topic="{metrics_topic}"}} 5.0' in text
        assert (
            f'feedback_dashboard_decode_errors_total{{reason="undecodable",topic="{metrics_topic}"}}'
            " 1.0" in text
        )
        lag_lines = [
            line
            for line in text.splitlines()
            if line.startswith("feedback_dashboard_consumer_lag_messages{")
            and metrics_topic in line
        ]
        assert lag_lines, "no lag series for the metrics topic"
        assert all(line.endswith(" 0.0") for line in lag_lines), lag_lines

        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200

        # A release comparison published by `feedbackctl compare --publish`, then a newer one.
        impacts = RELEASE_IMPACT.in_namespace(namespace)
        produce(bootstrap_servers, impacts, [release_impact_record("not_yet_known")])
        body = await _wait_for(session, url, lambda b: bool(b["release_impacts"]))
        assert body["release_impacts"][0]["verdict"] == "not_yet_known"
        newer = release_impact_record("better", created_at=START_MS + 20 * MINUTE_MS)
        produce(bootstrap_servers, impacts, [newer])
        body = await _wait_for(
            session, url, lambda b: b["release_impacts"][0]["verdict"] == "better"
        )
        [shown] = body["release_impacts"]
        assert (shown["agent_id"], shown["baseline"], shown["candidate"]) == (
            "support-bot",
            "1.4.0",
            "1.5.0",
        )
        assert shown["metrics"] == newer["metrics"]
        assert body["feed"]["records"][impacts.name] == 2
