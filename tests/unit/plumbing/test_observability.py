"""The Prometheus endpoint answers over real HTTP with the named series; names follow the rule."""

import socket
import urllib.request
from pathlib import Path

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


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on `port`, as the kernel reports them."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, words))
    return found


def test_endpoint_listens_on_loopback_unless_configured() -> None:
    server = start_metrics_server(0, registry=CollectorRegistry(), any_port=True)
    assert server is not None
    try:
        assert server.host == "127.0.0.1"
        assert listening_addresses(server.port) == {"127.0.0.1"}
    finally:
        server.close()


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
