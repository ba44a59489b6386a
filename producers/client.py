"""`FeedbackClient`: what agents call to emit interactions, feedback and signals to Kafka.

One call builds the record, checks it against its contract, encodes it (Avro single-object) and
hands it to an idempotent confluent-kafka producer keyed by session_id; it returns the event_id at
once. A background thread serves delivery reports. An event that cannot be delivered (broker
unreachable past `delivery_timeout_ms`, local queue still full after `queue_full_timeout_s`,
still queued when `close()` gives up) is written to the local spool and replayed by a later
client; every outcome is counted (`stats()`, Prometheus). Invalid input raises
`InvalidRecordError` (a ValueError naming the field) before anything is sent.
"""

import atexit
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Unpack

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import CollectorRegistry

from plumbing.kafka_security import kafka_security
from producers.attachments import store_attachments
from producers.checks import checker_for
from producers.encoding import CheckedEncoder, checked_encoder
from producers.exceptions import DeliveryFailedError, ProducerClosedError, QueueFullError
from producers.metrics import ProducerCounters, ProducerStats
from producers.records import (
    FeedbackFields,
    InteractionFields,
    SignalFields,
    build_feedback,
    build_interaction,
    build_signal,
    event_time_ms,
    new_event_id,
)
from producers.settings import ProducerSettings
from producers.spool import ClaimedSpoolFile, SpoolWriter, claim_spool_files
from schemas.exceptions import InvalidRecordError
from schemas.partitioning import PARTITIONER
from schemas.serializer import (
    MARKER,
    SingleObjectSerializer,
    content_type_headers,
    serializer_for,
)
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec

__all__ = ["FeedbackClient", "ProducerTopics", "producer_config"]

log = logging.getLogger(__name__)

_WARN_EVERY_S = 10.0
# How long the delivery thread waits for reports per round: close() waits up to this for it to
# stop (0.1 s was up to 7% of a 100,000-event benchmark run); an idle round costs a wake-up.
_DELIVERY_POLL_S = 0.02
_SINGLE_OBJECT = content_type_headers(MARKER)  # the header of nearly every event, looked up once


@dataclass(frozen=True)
class ProducerTopics:
    """The three input topics a client writes to (the registry's, or renamed ones in tests)."""

    interactions: TopicSpec = INTERACTIONS
    feedback: TopicSpec = FEEDBACK
    signals: TopicSpec = SIGNALS

    @classmethod
    def in_namespace(cls, namespace: str | None) -> "ProducerTopics":
        return cls(
            INTERACTIONS.in_namespace(namespace),
            FEEDBACK.in_namespace(namespace),
            SIGNALS.in_namespace(namespace),
        )


class FeedbackClient:
    """Emit agent events without blocking or crashing the agent, and without losing one.

    Use it as a context manager, or call `close()` at shutdown: that waits for deliveries and
    spools whatever could not be delivered. Thread-safe for `log_*`; close it from one thread.
    """

    def __init__(
        self,
        settings: ProducerSettings | None = None,
        *,
        topics: ProducerTopics | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings or ProducerSettings()
        self.topics = topics or ProducerTopics.in_namespace(self.settings.topic_namespace)
        self._serializers: dict[str, SingleObjectSerializer] = {
            spec.value_record: serializer_for(spec)
            for spec in (self.topics.interactions, self.topics.feedback, self.topics.signals)
        }
        self._checks = {name: checker_for(name) for name in self._serializers}
        self._max_text_bytes = self.settings.max_text_bytes
        self._max_future_skew_ms = int(self.settings.max_future_skew_s * 1000)
        self._max_event_bytes = self.settings.max_event_bytes
        # Check + encode in one pass for the common event (producers.encoding); the checks
        # above, then the serializer, for anything it declines.
        self._checked: dict[str, CheckedEncoder | None] = {
            name: checked_encoder(
                serializer,
                self._max_text_bytes,
                self._max_event_bytes,
                self._max_future_skew_ms,
            )
            for name, serializer in self._serializers.items()
        }
        self._counters = ProducerCounters(registry)
        self._spool = (
            SpoolWriter(self.settings.spool_dir)
            if self.settings.failure_policy == "spool"
            else None
        )
        self._failures_reported = 0
        self._last_warning = 0.0
        # Claimed spool files whose events are queued: deleted when nothing is in flight.
        self._replaying: list[ClaimedSpoolFile] = []
        self._replaying_lock = threading.Lock()
        self._closed = False
        self._producer = Producer(self._kafka_config())
        self._stop = threading.Event()
        self._poller = threading.Thread(
            target=self._serve_deliveries, name="feedback-producer-deliveries", daemon=True
        )
        self._poller.start()
        _OPEN_CLIENTS.add(self)

    # -- the agent-facing API ------------------------------------------------------------

    def log_interaction(self, **fields: Unpack[InteractionFields]) -> str:
        """Emit one turn (prompt, response, tools, cost...); returns its event_id."""
        topic = self.topics.interactions
        return self._emit(topic, self._build(topic, build_interaction, fields))

    def log_feedback(self, **fields: Unpack[FeedbackFields]) -> str:
        """Emit explicit feedback on a turn (`interaction_id`) or a whole session."""
        topic = self.topics.feedback
        return self._emit(topic, self._build(topic, build_feedback, fields))

    def log_signal(self, **fields: Unpack[SignalFields]) -> str:
        """Emit an implicit signal (task_completed, task_failed, retried...)."""
        topic = self.topics.signals
        return self._emit(topic, self._build(topic, build_signal, fields))

    def send(self, topic: TopicSpec, record: Mapping[str, Any]) -> str:
        """Emit a complete record dict to one of the input topics (event_id/time filled)."""
        if record.get("event_id") is None or type(record.get("event_time")) is not int:
            record = self._complete(topic, record)
        return self._emit(topic, record)

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait for deliveries (default: close_timeout_s); return how many are still queued."""
        remaining = self._producer.flush(
            self.settings.close_timeout_s if timeout_s is None else timeout_s
        )
        if self._spool is not None:
            self._spool.sync()
        self._finish_replays()
        self._raise_new_failures()
        return int(remaining)

    def close(self) -> ProducerStats:
        """Deliver what can be delivered in close_timeout_s, spool the rest, release the spool."""
        if self._closed:
            return self.stats()
        _OPEN_CLIENTS.discard(self)
        self._stop.set()
        self._poller.join()
        self._closed = True
        remaining = self._producer.flush(self.settings.close_timeout_s)
        if remaining:
            # Purged messages come back through the delivery callback with an error: spooled.
            log.warning("%d events still queued at close; spooling them", remaining)
            self._producer.purge(in_queue=True, in_flight=True, blocking=True)
            deadline = time.monotonic() + 5.0
            while len(self._producer) and time.monotonic() < deadline:
                self._producer.poll(0.05)
        if self._spool is not None:
            self._spool.close()
        self._finish_replays(closing=True)
        stats = self.stats()
        self._raise_new_failures()
        return stats

    def stats(self) -> ProducerStats:
        """Counts since this client was created (see producers.metrics for the outcomes);
        `delivered` is exact once `flush()` returned 0."""
        return self._counters.snapshot(in_queue=len(self._producer))

    def replay_spool(self, wait: bool = True) -> int:
        """Send again every event spooled by clients that are gone; return how many.

        A spool file stays locked until nothing is in flight any more (each of its events is
        then delivered or spooled anew), and is deleted then; with `wait`, this call flushes
        to get there. A crash before that replays the file again: consumers deduplicate by
        event_id.
        """
        if self._spool is None:
            return 0
        replayed = 0
        for claimed in claim_spool_files(self.settings.spool_dir, exclude=self._spool.path):
            replayed += self._replay(claimed)
        if wait and replayed:
            self.flush()
        return replayed

    def __enter__(self) -> "FeedbackClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- shared with AsyncFeedbackClient ---------------------------------------------------

    def _build(
        self, topic: TopicSpec, builder: Callable[..., dict[str, Any]], fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            return builder(**store_attachments(fields, self.settings))
        except InvalidRecordError:
            self._counters.add("rejected", topic.name)
            raise
        except TypeError as exc:  # a missing or unknown keyword argument
            self._counters.add("rejected", topic.name)
            named = re.search(r"'(\w+)'", str(exc))
            raise InvalidRecordError(
                f"{topic.value_record}: {exc}", named.group(1) if named else None
            ) from None

    def _complete(self, topic: TopicSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        if record.get("event_id") is not None and type(record.get("event_time")) is int:
            return record
        completed = dict(record)
        if completed.get("event_id") is None:
            completed["event_id"] = new_event_id()
        try:
            completed["event_time"] = event_time_ms(completed.get("event_time"))
        except InvalidRecordError:
            self._counters.add("rejected", topic.name)
            raise
        return completed

    def _encode(self, topic: TopicSpec, record: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """Check and encode; the Kafka key and value. Nothing is sent when this raises."""
        checked = self._checked.get(topic.value_record)
        if checked is not None:
            # Any doubt (Fallback, or any error) takes the slow path below, which explains.
            # (try/except: free in 3.11 when nothing is raised.)
            try:
                return record["session_id"].encode(), checked(record)
            except Exception:
                pass
        check = self._checks.get(topic.value_record)
        if check is None:
            raise ValueError(
                f"{topic.name} carries {topic.value_record}; the SDK sends interactions, "
                "feedback and signals only"
            )
        try:
            check(record, self._max_text_bytes)
            self._check_clock(record)
            value = self._serializers[topic.value_record].encode(record)
            if len(value) > self._max_event_bytes:
                raise InvalidRecordError(
                    f"the encoded event is {len(value)} bytes, above the limit of "
                    f"{self._max_event_bytes} (FEEDBACK_PRODUCER_MAX_EVENT_BYTES)"
                )
        except InvalidRecordError:
            self._counters.add("rejected", topic.name)
            raise
        return record["session_id"].encode("utf-8"), value

    def _check_clock(self, record: Mapping[str, Any]) -> None:
        """Refuse an event_time from a broken clock: the processor would dead-letter it."""
        ahead = record["event_time"] - time.time_ns() // 1_000_000
        if ahead > self._max_future_skew_ms:
            raise InvalidRecordError(
                f"event_time={record['event_time']} is {ahead} ms ahead of this machine's clock; "
                f"at most {self._max_future_skew_ms} ms allowed "
                "(FEEDBACK_PRODUCER_MAX_FUTURE_SKEW_S)",
                "event_time",
            )

    def _emit(self, topic: TopicSpec, record: Mapping[str, Any]) -> str:
        key, value = self._encode(topic, record)
        if not self._offer(topic.name, key, value):
            self._wait_for_room(topic.name, key, value)
        return str(record["event_id"])

    def _offer(self, topic: str, key: bytes | None, value: bytes) -> bool:
        """One attempt to queue an event: False when the local queue is full."""
        if self._closed:
            raise ProducerClosedError("this FeedbackClient is closed; create a new one")
        try:
            headers = _SINGLE_OBJECT if value[:2] == MARKER else content_type_headers(value)
            self._producer.produce(topic, value, key, headers=headers)
        except BufferError:
            return False
        except KafkaException as exc:  # e.g. a fatal idempotence error: the producer is done
            self._spool_event(topic, key, value, exc.args[0].name())
            return True
        self._counters.add("sent", topic)
        return True

    def _queue_stayed_full(self, topic: str, key: bytes | None, value: bytes) -> None:
        if self._spool is None:
            raise QueueFullError(
                f"the local queue stayed full for {self.settings.queue_full_timeout_s}s "
                "(is the broker reachable? raise FEEDBACK_PRODUCER_QUEUE_MAX_MESSAGES?)"
            )
        self._spool_event(topic, key, value, "queue_full")

    # -- internals -----------------------------------------------------------------------

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> bool:
        """Queue an event, blocking up to queue_full_timeout_s for room; False if spooled."""
        return self._offer(topic, key, value) or self._wait_for_room(topic, key, value)

    def _wait_for_room(self, topic: str, key: bytes | None, value: bytes) -> bool:
        """After a full queue: retry for queue_full_timeout_s, then spool (False) or raise."""
        self._counters.queue_full_wait()
        deadline = time.monotonic() + self.settings.queue_full_timeout_s
        while time.monotonic() < deadline:
            self._producer.poll(0.005)
            if self._offer(topic, key, value):
                return True
        self._queue_stayed_full(topic, key, value)
        return False

    def _spool_event(self, topic: str, key: bytes | None, value: bytes, reason: str) -> None:
        if self._spool is None:
            log.error("event for %s not delivered (%s) and no spool configured", topic, reason)
            return
        try:
            self._spool.append(topic, key, value, reason)
        except OSError:
            self._counters.add("lost", topic)
            log.exception("could not spool an undelivered event for %s: it is lost", topic)
            return
        self._counters.add("spooled", topic)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        # Only failures are reported (delivery.report.only.error): successes are counted as
        # sent - failed - in_queue, which saves a Python call per event.
        if err is None:
            return
        topic = msg.topic() or "?"
        self._counters.add("failed", topic)
        self._warn_now_and_then("delivery to %s failed: %s", topic, err)
        self._spool_event(topic, msg.key(), msg.value() or b"", err.name())

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("fatal producer error, events will be spooled: %s", err)
        else:
            self._warn_now_and_then("kafka: %s", err)

    def _warn_now_and_then(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning(message + " (%s)", *args, self.stats())

    def _serve_deliveries(self) -> None:
        if self.settings.replay_spool_on_start:
            try:
                replayed = self.replay_spool(wait=False)
                if replayed:
                    log.info("replayed %d spooled events", replayed)
            except Exception:
                log.exception("replaying the spool failed; it will be retried by a later client")
        while not self._stop.is_set():
            self._producer.poll(_DELIVERY_POLL_S)
            self._counters.publish(len(self._producer))
            self._finish_replays()

    def _replay(self, claimed: ClaimedSpoolFile) -> int:
        """Queue a claimed file's events; the file is deleted by `_finish_replays`."""
        sent = 0
        for entry in claimed.entries:
            if self._stop.is_set():  # closing: keep the file for a later replay
                claimed.release()
                return sent
            try:
                queued = self._produce(entry.topic, entry.key, entry.value)
            except ProducerClosedError:
                claimed.release()
                return sent
            if queued:
                self._counters.add("replayed", entry.topic)
                sent += 1
        with self._replaying_lock:
            self._replaying.append(claimed)
        self._finish_replays()
        return sent

    def _finish_replays(self, closing: bool = False) -> None:
        """Delete replayed files once nothing is in flight: every event of theirs is then
        delivered or in this client's own spool. At close, keep any that is not so."""
        with self._replaying_lock:
            if not self._replaying:
                return
            settled = len(self._producer) == 0
            if not settled and not closing:
                return
            for claimed in self._replaying:
                if settled:
                    claimed.done()
                else:  # replayed again later; duplicates share their event_id
                    claimed.release()
            self._replaying.clear()

    def _raise_new_failures(self) -> None:
        if self._spool is not None:
            return
        failed = self._counters.get("failed")
        if failed > self._failures_reported:
            new, self._failures_reported = failed - self._failures_reported, failed
            raise DeliveryFailedError(f"{new} events could not be delivered", new)

    def _kafka_config(self) -> dict[str, Any]:
        return {
            **producer_config(self.settings),
            "on_delivery": self._on_delivery,
            "error_cb": self._on_error,
            "delivery.report.only.error": True,
        }


_OPEN_CLIENTS: "weakref.WeakSet[FeedbackClient]" = weakref.WeakSet()


@atexit.register
def _close_open_clients() -> None:
    """An agent that exits without close() still gets its events delivered or spooled."""
    for client in list(_OPEN_CLIENTS):
        log.warning("a FeedbackClient was not closed; closing it at exit")
        try:
            client.close()
        except Exception:
            log.exception("closing a FeedbackClient at exit failed")


def producer_config(settings: ProducerSettings) -> dict[str, Any]:
    """The librdkafka configuration the SDK produces with (idempotent, acks=all, batched)."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
        "client.id": settings.client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.linger_ms,
        "batch.size": settings.batch_size_bytes,
        "compression.type": settings.compression,
        "partitioner": PARTITIONER,  # Java's: a session's events meet other producers' there
        "queue.buffering.max.messages": settings.queue_max_messages,
        "queue.buffering.max.kbytes": settings.queue_max_kbytes,
        "message.timeout.ms": settings.delivery_timeout_ms,
        **settings.kafka_config,
    }
