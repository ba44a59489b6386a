"""`feedbackctl monitor follow`: the live monitor as a service. Reads the processor's final
metric windows from the metrics topic as they are published, feeds a `LiveMonitor` and
publishes its alerts to the alerts topic at once.

State is rebuilt, not stored: on start the follower reads the metrics topic from its beginning
(retention: 7 days, more than any reference span) and replays it through the monitor; alerts
whose id is already on the alerts topic are not published again (ids are deterministic). So a
restart or a second replica repeats nothing, and no offsets or state need keeping.
"""

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from prometheus_client import CollectorRegistry, Counter, Gauge

from curation.exceptions import CurationError
from curation.monitoring.alerts import AlertPublisher, read_alerts
from curation.monitoring.live import LiveMonitor, Verdict
from curation.monitoring.live_rules import LiveRules
from plumbing.kafka_security import kafka_client_config
from plumbing.observability import metric_name
from schemas.serializer import serializer_for
from schemas.topics import METRICS, TopicSpec

__all__ = ["FollowStats", "MetricsFollower"]

log = logging.getLogger(__name__)


@dataclass
class FollowStats:
    """What the follower did so far."""

    records: int = 0
    final_windows: int = 0
    undecodable: int = 0
    verdicts: int = 0
    alerts_published: int = 0
    alerts_known: int = 0
    alerts: list[dict[str, object]] = field(default_factory=list)


class MetricsFollower:
    """Consumes `metrics` (all partitions, from the beginning), publishes alerts on `alerts`."""

    def __init__(
        self,
        bootstrap_servers: str,
        rules: LiveRules,
        metrics: TopicSpec = METRICS,
        publisher: AlertPublisher | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.metrics = metrics
        self.publisher = publisher or AlertPublisher(bootstrap_servers)
        self.monitor = LiveMonitor(rules)
        self.serializer = serializer_for(metrics)
        self.stats = FollowStats()
        self.registry = CollectorRegistry()
        self.newest_end_ms = 0
        self._windows = Counter(
            metric_name("monitor", "final_windows"),
            "Final metric windows read.",
            registry=self.registry,
        )
        self._verdicts = Counter(
            metric_name("monitor", "verdicts"),
            "Matured windows compared, by signal and outcome (tested, or why not).",
            ["signal", "outcome"],
            registry=self.registry,
        )
        self._published = Counter(
            metric_name("monitor", "alerts_published"), "Alerts published.", registry=self.registry
        )
        self._newest = Gauge(
            metric_name("monitor", "newest_window_end", "seconds"),
            "Event time (epoch s) of the newest final window read.",
            registry=self.registry,
        )
        self.stop_event = threading.Event()
        self._known: set[str] = set()

    def run(self, max_seconds: float | None = None) -> FollowStats:
        """Follow until `stop()` (or `max_seconds` of wall clock)."""
        self._known = {
            str(a["alert_id"])
            for a in read_alerts(self.bootstrap_servers, self.publisher.topic, timeout_s=15.0)
        }
        self.stats.alerts_known = len(self._known)
        consumer = Consumer(
            kafka_client_config(
                self.bootstrap_servers,
                {
                    "group.id": f"feedbackctl-monitor-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                },
            )
        )
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            self._assign(consumer)
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() > deadline:
                    break
                messages = consumer.consume(num_messages=500, timeout=0.5)
                self._take(messages)
        finally:
            consumer.close()
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()

    def _assign(self, consumer: Consumer) -> None:
        deadline = time.monotonic() + 60.0
        while True:
            metadata = consumer.list_topics(self.metrics.name, timeout=10.0)
            topic = metadata.topics.get(self.metrics.name)
            if topic is not None and topic.error is None and topic.partitions:
                break
            if time.monotonic() > deadline or self.stop_event.is_set():
                raise CurationError(
                    f"metrics topic {self.metrics.name} not found; start the stack "
                    "(feedbackctl stack up) or the processor with this namespace"
                )
            time.sleep(1.0)
        consumer.assign(
            [TopicPartition(self.metrics.name, p, OFFSET_BEGINNING) for p in topic.partitions]
        )

    def _take(self, messages: list[Message]) -> None:
        alerts = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            self.stats.records += 1
            try:
                record = self.serializer.decode(message.value() or b"")
            except Exception as exc:  # any undecodable record is reported and skipped
                self.stats.undecodable += 1
                log.error(
                    "metric record %s[%s]@%s cannot be decoded, skipped (it stays in the topic): "
                    "%s",
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    exc,
                )
                continue
            if record.get("is_final"):
                self.stats.final_windows += 1
                self._windows.inc()
                self.newest_end_ms = max(self.newest_end_ms, int(record["window_end"]))
                self._newest.set(self.newest_end_ms / 1000)
            for verdict in self.monitor.add(record):
                alerts += self._publishable(verdict)
        if alerts:
            sent = self.publisher.publish(alerts)
            self.stats.alerts_published += sent
            self._published.inc(sent)
            self.stats.alerts += alerts
            for alert in alerts:
                log.warning("alert %s: %s", alert["alert_id"], alert["message"])

    def _publishable(self, verdict: Verdict) -> list[dict[str, object]]:
        self._verdicts.labels(verdict.signal, verdict.reason or "tested").inc()
        if not verdict.reason:
            self.stats.verdicts += 1
        alert = verdict.alert
        if alert is None or alert["alert_id"] in self._known:
            return []
        self._known.add(str(alert["alert_id"]))
        return [alert]
