"""Prometheus metrics of the gateway, served at /metrics on its own port."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    """Events by outcome, answers by status, and the state of Kafka and the spool."""

    def __init__(self, kafka_up: Callable[[], bool], spooled_bytes: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "feedback_gateway_events_total",
            "Events by outcome: kafka, spool (acknowledged), rejected, unavailable (503).",
            ["outcome"],
            registry=self.registry,
        )
        self.answers = Counter(
            "feedback_gateway_requests_total",
            "Requests by route and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        up = Gauge(
            "feedback_gateway_kafka_up",
            "1 while Kafka takes events, 0 while they go to the spool.",
            registry=self.registry,
        )
        up.set_function(lambda: float(kafka_up()))
        spool = Gauge(
            "feedback_gateway_spool_bytes",
            "Bytes of events waiting in the spool for Kafka.",
            registry=self.registry,
        )
        spool.set_function(lambda: float(spooled_bytes()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
