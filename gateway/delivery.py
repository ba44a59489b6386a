"""Acknowledged means stored: in Kafka, or in the durable spool when Kafka cannot take it.

`EventWriter.write(events)` resolves once every event of the batch is acknowledged by Kafka
(`acks=all`, idempotent producer) or appended and fsynced to the gateway's spool (the SDK's
`producers.spool` format and locking), and says which; an event neither place took is
`unavailable` (the spool is full while Kafka is down) and the caller answers 503. While Kafka is
known to be down (all brokers down, or a delivery failed) events go straight to the spool, so
posts are not held for `ack_timeout_ms`. A replay thread probes Kafka every `replay_interval_s`;
when it answers, the spool file is rotated and every closed spool file is produced again with
its original bytes (same event_id: the pipeline deduplicates), and deleted once each of its
events is acknowledged or spooled anew. Spool files left by a gateway that crashed are replayed
the same way.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from gateway.contract import PreparedEvent
from gateway.settings import GatewaySettings
from plumbing.kafka_security import kafka_client_config
from producers.spool import SpoolWriter, claim_spool_files, spool_files
from schemas.partitioning import PARTITIONER

__all__ = ["EventWriter", "Stored"]

log = logging.getLogger(__name__)

Stored = Literal["kafka", "spool", "unavailable"]


class _Batch:
    """The delivery reports of one batch, counted on the poll thread; one wake-up per batch."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.outcomes: list[Stored | None] = [None] * size
        self.failed: list[int] = []
        self.pending = size
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def report(self, index: int, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.outcomes[index] = "kafka"
        else:
            self.failed.append(index)
        self.pending -= 1
        if self.pending == 0:
            self.loop.call_soon_threadsafe(self._wake)

    def skip(self) -> None:
        """An event that never reached the producer (spooled at once)."""
        self.pending -= 1

    def _wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class EventWriter:
    """One idempotent producer, the spool, and the thread that replays it."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.spool_dir: Path = settings.spool_dir
        self._spool = SpoolWriter(self.spool_dir)
        self._spool_lock = threading.Lock()
        self._spool_bytes = sum(p.stat().st_size for p in spool_files(self.spool_dir))
        self.kafka_up = True
        self.fatal = False
        self._probed = threading.Event()  # Kafka answered once since the start
        self._all_brokers_down = threading.Event()
        self._stop = threading.Event()
        self._producer = Producer(self._config())
        self._poller = threading.Thread(target=self._poll, name="gateway-deliveries", daemon=True)
        self._replayer = threading.Thread(
            target=self._replay_loop, name="gateway-replay", daemon=True
        )
        self._poller.start()
        self._replayer.start()

    # -- the request path (event loop) ----------------------------------------------------------

    async def write(self, events: Sequence[PreparedEvent]) -> list[Stored]:
        """Store every event; per event, where it is now."""
        if not events:
            return []
        loop = asyncio.get_running_loop()
        batch = _Batch(len(events), loop)
        to_spool: list[int] = []
        for index, event in enumerate(events):
            if (
                not self.kafka_up
                or self.fatal
                or not self._offer(event, partial(batch.report, index))
            ):
                batch.skip()
                to_spool.append(index)
        if batch.pending:
            await batch.future
        if batch.failed:
            self.kafka_up = False  # spool at once until the replay thread sees Kafka again
            to_spool.extend(batch.failed)
        if to_spool:
            stored = await asyncio.to_thread(self._spool_events, [events[i] for i in to_spool])
            for index, where in zip(to_spool, stored, strict=True):
                batch.outcomes[index] = where
        return [where or "unavailable" for where in batch.outcomes]

    def ready(self) -> bool:
        """Kafka answered since the start, and no delivery or probe failed since it last did."""
        return self.kafka_up and self._probed.is_set()

    def spooled_bytes(self) -> int:
        return self._spool_bytes

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued (spooling the rest), stop the threads, release the spool."""
        self._stop.set()
        self._replayer.join()
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self._producer.purge(in_queue=True, in_flight=True, blocking=True)
            self._producer.poll(1.0)
        self._poller.join()
        with self._spool_lock:
            self._spool.close()

    # -- Kafka ---------------------------------------------------------------------------------

    def _offer(self, event: PreparedEvent, on_delivery: Any) -> bool:
        """Queue an event; False when it must be spooled (local queue full, fatal producer)."""
        try:
            self._producer.produce(event.topic, event.value, event.key, on_delivery=on_delivery)
        except BufferError:
            return False
        except KafkaException as exc:
            log.error("the producer refused an event (%s); spooling it", exc)
            return False
        return True

    def _config(self) -> dict[str, Any]:
        s = self.settings
        return kafka_client_config(
            s.bootstrap_servers,
            {
                "client.id": "feedback-gateway",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": s.linger_ms,
                "compression.type": s.compression,
                "partitioner": PARTITIONER,  # the same partition as a Java agent's turns
                "message.timeout.ms": s.ack_timeout_ms,
                "queue.buffering.max.messages": 200_000,
                "error_cb": self._on_error,
                **s.kafka_config,
            },
        )

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            # The idempotent producer cannot go on (e.g. a sequence gap the broker refuses):
            # events go to the spool, and /healthz fails so that a supervisor restarts the
            # process, which replays the spool with a new producer.
            self.fatal = True
            log.error("fatal producer error, restart the gateway: %s", err)
        if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
            self._all_brokers_down.set()
        log.warning("kafka: %s", err)

    def _poll(self) -> None:
        while not self._stop.is_set() or len(self._producer):
            self._producer.poll(0.1)
            if self._all_brokers_down.is_set():
                # Answer the waiting posts from the spool now rather than after ack_timeout_ms:
                # the purged events come back as failed deliveries and are spooled. An event
                # in flight may have reached Kafka too; its replay is deduplicated downstream.
                self._all_brokers_down.clear()
                if self.kafka_up:
                    log.warning("kafka is unreachable: acknowledging events from the spool")
                self.kafka_up = False
                self._producer.purge(in_queue=True, in_flight=True, blocking=False)

    # -- the spool -----------------------------------------------------------------------------

    def _spool_events(self, events: Sequence[PreparedEvent]) -> list[Stored]:
        """Append and fsync (worker thread); `unavailable` for what the spool has no room for."""
        stored: list[Stored] = []
        with self._spool_lock:
            for event in events:
                size = len(event.value) * 4 // 3 + len(event.key) * 4 // 3 + 120
                if self._spool_bytes + size > self.settings.spool_max_bytes:
                    stored.append("unavailable")
                    continue
                try:
                    self._spool.append(event.topic, event.key, event.value, "kafka_unavailable")
                except OSError:
                    log.exception("could not spool an event; the client will be told to retry")
                    stored.append("unavailable")
                    continue
                self._spool_bytes += size
                stored.append("spool")
            try:
                self._spool.sync()
            except OSError:
                log.exception("could not fsync the spool; the client will be told to retry")
                return ["unavailable"] * len(events)
        return stored

    def _replay_loop(self) -> None:
        while not self._probed.is_set() and not self._stop.is_set():
            if self._kafka_answers():
                self.kafka_up = True
                self._probed.set()
            else:
                self.kafka_up = False
                self._stop.wait(self.settings.replay_interval_s)
        while not self._stop.wait(self.settings.replay_interval_s):
            try:
                if spool_files(self.spool_dir) or not self.kafka_up:
                    self._replay_once()
            except Exception:
                log.exception(
                    "replaying the spool failed; retrying in %ss", self.settings.replay_interval_s
                )

    def _kafka_answers(self) -> bool:
        try:
            topic = next(iter(self._producer.list_topics(timeout=5).topics), None)
            return topic is not None
        except KafkaException:
            return False

    def _replay_once(self) -> None:
        if self.fatal or not self._kafka_answers():
            return
        if not self.kafka_up:
            log.warning("kafka answers again: replaying the spool")
        self.kafka_up = True
        with self._spool_lock:
            self._spool.close()  # rotate: the next spooled event opens a new file
        # The file being written is locked by the writer: claiming skips it.
        for claimed in claim_spool_files(self.spool_dir):
            if self._stop.is_set():
                claimed.release()
                return
            failed = self._replay_file(claimed.entries)
            if failed is None:
                claimed.release()
                return
            if failed:
                self._spool_events(failed)
            claimed.done()
            with self._spool_lock:  # the estimate made while appending, corrected
                self._spool_bytes = sum(p.stat().st_size for p in spool_files(self.spool_dir))
            log.info(
                "replayed %d spooled events from %s (%d spooled again)",
                len(claimed.entries) - len(failed),
                claimed.path.name,
                len(failed),
            )

    def _replay_file(self, entries: Sequence[Any]) -> list[PreparedEvent] | None:
        """Produce a file's events and wait for every report; the failed ones, None if stopped."""
        events = [PreparedEvent(e.topic, e.key or b"", e.value, "") for e in entries]
        errors: list[KafkaError | None] = [None] * len(events)
        reported = [0]
        done = threading.Event()

        def report(index: int, err: KafkaError | None, _msg: Message) -> None:
            errors[index] = err
            reported[0] += 1
            if reported[0] == len(events):
                done.set()

        for index, event in enumerate(events):
            while not self._offer(event, partial(report, index)):
                if self.fatal or self._stop.wait(0.05):
                    return None
        if events:
            deadline = time.monotonic() + self.settings.ack_timeout_ms / 1000 + 30
            while not done.wait(0.5):
                if time.monotonic() > deadline or self._stop.is_set():
                    return None
        return [events[i] for i, err in enumerate(errors) if err is not None]
