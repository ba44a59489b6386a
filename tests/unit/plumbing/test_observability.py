"""The Prometheus endpoint answers over real HTTP with the named series; names follow the rule."""

import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from plumbing.observability import (
    ObservabilityError,
    counter,
    gauge,
    histogram,
    metric_name,
    start_metrics_server,
)


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return response.read().decode()


def test_endpoint_serves_named_series_over_http() -> None:
    registry = CollectorRegistry()
    events = counter("sink", "events_in", "Events read.", ["topic"], registry=registry)
    lag = gauge("sink", "lag", "Lag.", ["topic", "partition"], unit="messages", registry=registry)
    flush = histogram("sink", "flush_latency", "Flush time.", registry=registry)
    events.labels(topic="agent.interactions.v1").inc(3)
    lag.labels(topic="agent.interactions.v1", partition="2").set(17)
    flush.observe(0.25)

    server = start_metrics_server(0, host="127.0.0.1", registry=registry, any_port=True)
    assert server is not None
    try:
        body = _scrape(server.url)
    finally:
        server.close()

    assert 'feedback_sink_events_in_total{topic="agent.interactions.v1"} 3.0' in body
    assert 'feedback_sink_lag_messages{partition="2",topic="agent.interactions.v1"} 17.0' in body
    assert "feedback_sink_flush_latency_seconds_count 1.0" in body


def test_disabled_port_starts_nothing() -> None:
    assert start_metrics_server(None) is None
    assert start_metrics_server(0) is None


def test_busy_port_is_a_clear_error() -> None:
    registry = CollectorRegistry()
    first = start_metrics_server(0, host="127.0.0.1", registry=registry, any_port=True)
    assert first is not None
    try:
        with pytest.raises(ObservabilityError, match="METRICS_PORT"):
            start_metrics_server(first.port, host="127.0.0.1", registry=registry)
    finally:
        first.close()


def test_asking_twice_returns_the_same_series() -> None:
    registry = CollectorRegistry()
    first = counter("processor", "events_out", "Out.", ["topic"], registry=registry)
    assert counter("processor", "events_out", "Out.", ["topic"], registry=registry) is first
    with pytest.raises(ObservabilityError, match="labels"):
        counter("processor", "events_out", "Out.", ["reason"], registry=registry)
    with pytest.raises(ObservabilityError, match="Counter"):
        gauge("processor", "events_out", "Out.", ["topic"], registry=registry)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("sink", "flush_latency", "seconds"), "feedback_sink_flush_latency_seconds"),
        (("processor", "events_in", ""), "feedback_processor_events_in"),
        (("dashboard", "sse", "clients"), "feedback_dashboard_sse_clients"),
    ],
)
def test_metric_names_follow_the_convention(args: tuple[str, str, str], expected: str) -> None:
    assert metric_name(*args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ("kafka", "events_in", ""),  # unknown component
        ("sink", "EventsIn", ""),  # not snake case
        ("sink", "events_total", ""),  # prometheus-client adds _total
        ("sink", "flush_latency", "milliseconds"),  # not a base unit
    ],
)
def test_names_breaking_the_convention_are_refused(args: tuple[str, str, str]) -> None:
    with pytest.raises(ObservabilityError):
        metric_name(*args)
