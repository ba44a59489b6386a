"""The web service without a broker: page, JSON, event stream, health and /metrics."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from dashboard.server import FEED, LIVE, create_app
from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState
from tests.unit.dashboard.records import dead_letter_record, metric_record


@pytest.fixture()
async def client() -> AsyncIterator[TestClient]:
    settings = DashboardSettings(namespace="unit", push_interval_s=0.05)
    app = create_app(settings, registry=CollectorRegistry(), start_feed=False)

    def fill(state: DashboardState) -> None:
        state.add_metric(metric_record(0, interactions=10))
        state.add_metric(metric_record(1, interactions=30))
        state.add_dead_letter(dead_letter_record("too_late"))

    app[LIVE].update(fill)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_page_and_assets_are_served_by_the_service(client: TestClient) -> None:
    page = await client.get("/")
    assert page.status == 200
    html = await page.text()
    assert '<script src="/static/dashboard.js">' in html
    assert "https://" not in html  # nothing from a CDN
    for asset, kind in (("dashboard.js", "javascript"), ("dashboard.css", "css")):
        response = await client.get(f"/static/{asset}")
        assert response.status == 200
        assert kind in response.headers["Content-Type"]


async def test_json_snapshot(client: TestClient) -> None:
    response = await client.get("/api/metrics")
    assert response.status == 200
    body = await response.json()
    assert body["api_version"] == 1
    assert body["topics"]["metrics"] == "agent.metrics.v1.unit"
    (agent,) = body["agents"]
    assert (agent["agent_id"], agent["agent_version"]) == ("support-bot", "1.4.0")
    assert agent["summary"]["interactions"] == 40
    assert len(agent["series"]) == 2
    assert body["dead_letters"]["by_reason"] == {"too_late": 1}
    assert body["feed"]["topics"] == [
        "agent.metrics.v1.unit",
        "agent.deadletter.v1.unit",
        "agent.alerts.v1.unit",
        "agent.release_impact.v1.unit",
    ]
    assert body["topics"]["release_impacts"] == "agent.release_impact.v1.unit"
    assert body["release_impacts"] == []


async def test_event_stream_pushes_the_snapshot_then_each_change(client: TestClient) -> None:
    response = await client.get("/api/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")

    first = await _next_event(response)
    assert first["agents"][0]["summary"]["interactions"] == 40

    client.app[LIVE].update(lambda state: state.add_metric(metric_record(2, interactions=5)))
    second = await _next_event(response)
    assert second["version"] > first["version"]
    assert second["agents"][0]["summary"]["interactions"] == 45
    response.close()


async def test_health_and_prometheus(client: TestClient) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["status"] == "ok"

    client.app[FEED].telemetry.records_in.labels(topic="agent.metrics.v1.unit").inc(2)
    metrics = await client.get("/metrics")
    text = await metrics.text()
    assert 'feedback_dashboard_records_in_total{topic="agent.metrics.v1.unit"} 2.0' in text
    assert "feedback_dashboard_sse_clients" in text


async def test_dead_feed_fails_the_health_check(client: TestClient) -> None:
    status = client.app[FEED].status
    status.running, status.last_error = False, "KafkaException: fatal"
    response = await client.get("/healthz")
    assert response.status == 503


async def _next_event(response: ClientResponse) -> dict[str, Any]:
    """Read lines until one `event: snapshot` is complete; 10 s and 1000 lines at most."""
    data = None
    for _ in range(1000):
        raw = await asyncio.wait_for(response.content.readline(), timeout=10)
        line = raw.decode().rstrip("\n")
        if line.startswith("data: "):
            data = json.loads(line[len("data: ") :])
        elif line == "" and data is not None:
            return data
    raise AssertionError("no complete event in 1000 lines")


async def test_unreachable_kafka_is_reported_not_fatal() -> None:
    settings = DashboardSettings(bootstrap_servers="127.0.0.1:1", push_interval_s=0.05)
    app = create_app(settings, registry=CollectorRegistry())
    async with TestClient(TestServer(app)) as client:
        status = app[FEED].status
        for _ in range(100):  # list_topics gives up after 5 s
            if status.last_error:
                break
            await asyncio.sleep(0.1)
        assert status.connected is False
        assert "127.0.0.1:1" in (status.last_error or "")
        health = await client.get("/healthz")
        assert health.status == 200  # restarting would not bring Kafka back
        page = await client.get("/api/metrics")
        assert (await page.json())["feed"]["connected"] is False


async def test_range_is_a_query_parameter(client: TestClient) -> None:
    everything = await (await client.get("/api/metrics?range=all")).json()
    assert everything["event_time"]["range"] == "all"
    default = await (await client.get("/api/metrics")).json()
    assert default["event_time"]["range"] == "1h"
    assert default["agents"][0]["summary"]["interactions"] == 40
    refused = await client.get("/api/stream?range=2h")
    assert refused.status == 400
    assert "unknown range" in await refused.text()
