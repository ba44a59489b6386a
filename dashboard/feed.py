"""Reads the metrics, dead-letter, alert and release-impact topics in a background thread into
the live state.

The feed assigns every partition of the four topics to itself (no group rebalancing, no
committed offsets): each dashboard replica needs all the data. On start, a partition is read from
the older of two points: the first message of the last `lookback_s` of wall-clock time (Kafka
timestamps) and `backfill_messages` before its end. The state then keeps the last hour of EVENT
time; the second bound matters when producers stamp messages with event time in the past.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from dashboard.live import LiveState
from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState
from dashboard.telemetry import DashboardTelemetry
from plumbing.kafka_security import kafka_security
from schemas.exceptions import ContractError
from schemas.serializer import serializer_for
from schemas.topics import ALERTS, DEADLETTER, METRICS, RELEASE_IMPACT, TopicSpec

__all__ = ["FeedStatus", "MetricsFeed", "start_offset"]

log = logging.getLogger(__name__)

_BATCH = 1000
_POLL_S = 0.5
_REFRESH_S = 5.0  # metadata (new topics/partitions) and lag, this often
_LOGGED_ERRORS_PER_TOPIC = 10


def start_offset(low: int, high: int, by_time: int | None, backfill: int) -> int:
    """Where to start reading a partition: the older of the time bound and the count bound.

    `by_time` is the offset `offsets_for_times` found (None or negative when no message is that
    recent); `backfill` the number of newest messages to re-read anyway.
    """
    by_count = max(low, high - backfill)
    time_bound = high if by_time is None or by_time < 0 else by_time
    return max(low, min(time_bound, by_count))


@dataclass
class FeedStatus:
    """What the feed is doing, for /healthz and the page footer."""

    running: bool = False
    connected: bool = False
    topics: list[str] = field(default_factory=list)
    missing_topics: list[str] = field(default_factory=list)
    assigned_partitions: int = 0
    records: dict[str, int] = field(default_factory=dict)
    decode_errors: int = 0
    last_error: str | None = None
    last_record_at_ms: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _next_positions(messages: list[Message]) -> list[TopicPartition]:
    """The offset after the last message of each partition in a batch."""
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        if message.error() is None:
            last[(message.topic() or "", message.partition() or 0)] = message.offset() or 0
    return [
        TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()
    ]


class MetricsFeed:
    """The consumer thread: decode, hand to the state, keep the telemetry up to date."""

    def __init__(
        self,
        settings: DashboardSettings,
        live: LiveState,
        telemetry: DashboardTelemetry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.live = live
        self.telemetry = telemetry
        self.clock = clock
        namespace = settings.namespace or None
        self.metrics_topic = METRICS.in_namespace(namespace).name
        self.dead_letter_topic = DEADLETTER.in_namespace(namespace).name
        self.alerts_topic = ALERTS.in_namespace(namespace).name
        self.release_impact_topic = RELEASE_IMPACT.in_namespace(namespace).name
        self._handlers: dict[str, Callable[[DashboardState, dict[str, Any]], object]] = {
            self.metrics_topic: DashboardState.add_metric,
            self.dead_letter_topic: DashboardState.add_dead_letter,
            self.alerts_topic: DashboardState.add_alert,
            self.release_impact_topic: DashboardState.add_release_impact,
        }
        specs: dict[str, TopicSpec] = {
            self.metrics_topic: METRICS,
            self.dead_letter_topic: DEADLETTER,
            self.alerts_topic: ALERTS,
            self.release_impact_topic: RELEASE_IMPACT,
        }
        self._serializers = {topic: serializer_for(spec) for topic, spec in specs.items()}
        self.status = FeedStatus(topics=list(specs), records=dict.fromkeys(specs, 0))
        self._assigned: set[tuple[str, int]] = set()
        self._logged_errors: dict[str, int] = dict.fromkeys(specs, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the consumer thread (returns at once; the thread retries until Kafka answers)."""
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)
        self.status.running = True
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait until it has closed its consumer.

        Returning earlier would leave a live librdkafka consumer behind: in the demo, the process
        then reads the lake and exits while the daemon thread still polls, so the consumer is
        destroyed during interpreter shutdown (or never), and the process can crash on the way
        out. Each Kafka call of the thread has a timeout, so the wait ends; a wait longer than
        `timeout_s` is logged.
        """
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout=timeout_s)
        if thread.is_alive():
            log.warning(
                "waiting for the dashboard feed to close its Kafka consumer (%.0f s so far)",
                timeout_s,
            )
            thread.join()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
                "group.id": self.settings.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "client.id": "feedback-dashboard",
                "log_level": 3,
                **self.settings.kafka_config,
            }
        )
        try:
            next_refresh = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_refresh:
                    self._refresh(consumer)
                    next_refresh = time.monotonic() + _REFRESH_S
                if not self._assigned:
                    self._stop.wait(_POLL_S)
                    continue
                messages = consumer.consume(num_messages=_BATCH, timeout=_POLL_S)
                if messages:
                    self._handle(messages)
                    self._set_lag(consumer, _next_positions(messages))
        except Exception as exc:  # the page must say why it stopped moving
            log.exception("dashboard feed stopped")
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.status.running = False
            consumer.close()

    def _refresh(self, consumer: Consumer) -> None:
        """Assign partitions that appeared since the last look; update lag gauges.

        Kafka errors here (broker down, a timeout) are reported and retried at the next refresh.
        """
        try:
            metadata = consumer.list_topics(timeout=5)
            self.status.connected = True
            self.status.missing_topics = [t for t in self.status.topics if t not in metadata.topics]
            new = [
                TopicPartition(topic, partition)
                for topic in self.status.topics
                if topic in metadata.topics
                for partition in metadata.topics[topic].partitions
                if (topic, partition) not in self._assigned
            ]
            if new:
                self._assign(consumer, new)
            self._update_lag(consumer)
        except KafkaException as exc:
            self.status.connected = False
            where = self.settings.bootstrap_servers
            self.status.last_error = f"cannot read topic metadata from {where}: {exc}"
            log.warning("%s", self.status.last_error)

    def _assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        positioned = self._start_positions(consumer, partitions)
        consumer.incremental_assign(positioned)
        self._assigned.update((tp.topic, tp.partition) for tp in positioned)
        self.status.assigned_partitions = len(self._assigned)
        starts = [f"{tp.topic}/{tp.partition}@{tp.offset}" for tp in positioned]
        log.info("dashboard reads %d new partitions", len(positioned), extra={"starts": starts})

    def _start_positions(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        since_ms = int((self.clock() - self.settings.lookback_s) * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, since_ms) for tp in partitions], timeout=10
        )
        by_time = {(tp.topic, tp.partition): tp.offset for tp in found}
        positioned = []
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            offset = start_offset(
                low, high, by_time.get((tp.topic, tp.partition)), self.settings.backfill_messages
            )
            positioned.append(TopicPartition(tp.topic, tp.partition, offset))
        return positioned

    def _update_lag(self, consumer: Consumer) -> None:
        assigned = [TopicPartition(topic, partition) for topic, partition in self._assigned]
        if assigned:
            self._set_lag(consumer, consumer.position(assigned))

    def _set_lag(self, consumer: Consumer, positions: list[TopicPartition]) -> None:
        """Lag = end of the partition (as last fetched, no broker call) minus our position."""
        for tp in positions:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high < 0 or tp.offset < 0:
                continue
            self.telemetry.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(0, high - tp.offset)
            )

    def _handle(self, messages: list[Message]) -> None:
        decoded: list[tuple[str, dict[str, Any]]] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if not error.retriable() and error.fatal():
                    raise KafkaException(error)
                log.warning("kafka: %s", error)
                continue
            topic = message.topic() or ""
            value = message.value() or b""
            try:
                decoded.append((topic, self._serializers[topic].decode(value)))
            except ContractError as exc:
                self._refuse(message, exc)
        if not decoded:
            return

        def apply(state: DashboardState) -> None:
            for topic, record in decoded:
                self._handlers[topic](state, record)

        self.live.update(apply)
        for topic, _record in decoded:
            self.status.records[topic] += 1
            self.telemetry.records_in.labels(topic=topic).inc()
        self.status.last_record_at_ms = int(self.clock() * 1000)
        self.telemetry.windows.set(self.live.windows)
        if self.live.horizon_end_ms is not None:
            self.telemetry.horizon_end.set(self.live.horizon_end_ms / 1000)

    def _refuse(self, message: Message, exc: ContractError) -> None:
        """A record the dashboard cannot read is counted and logged, never fatal."""
        topic = message.topic() or ""
        self.status.decode_errors += 1
        self.telemetry.decode_errors.labels(topic=topic, reason=exc.reason).inc()
        self._logged_errors[topic] += 1
        level = logging.WARNING
        if self._logged_errors[topic] > _LOGGED_ERRORS_PER_TOPIC:
            level = logging.DEBUG
        log.log(
            level,
            "skipped an unreadable record: %s",
            exc,
            extra={
                "topic": topic,
                "partition": message.partition(),
                "offset": message.offset(),
                "reason": exc.reason,
            },
        )
