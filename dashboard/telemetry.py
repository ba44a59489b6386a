"""The dashboard's own Prometheus series (served at its /metrics)."""

from prometheus_client import REGISTRY, CollectorRegistry

from plumbing.observability import counter, gauge

__all__ = ["DashboardTelemetry"]


class DashboardTelemetry:
    """Records read, records refused, consumer lag, open event streams, windows shown."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.records_in = counter(
            "dashboard", "records_in", "Records read, by topic.", ["topic"], registry=registry
        )
        self.decode_errors = counter(
            "dashboard",
            "decode_errors",
            "Records that could not be decoded, by topic and dead-letter reason code.",
            ["topic", "reason"],
            registry=registry,
        )
        self.consumer_lag = gauge(
            "dashboard",
            "consumer_lag",
            "Messages behind the end of each partition.",
            ["topic", "partition"],
            unit="messages",
            registry=registry,
        )
        self.sse_clients = gauge(
            "dashboard", "sse", "Open server-sent event streams.", unit="clients", registry=registry
        )
        self.windows = gauge(
            "dashboard",
            "windows",
            "Metric windows held (all agent versions, within the look-back).",
            registry=registry,
        )
        self.horizon_end = gauge(
            "dashboard",
            "event_time_horizon",
            "Newest metric window end seen, as Unix time (event time, not wall clock).",
            unit="timestamp_seconds",
            registry=registry,
        )
