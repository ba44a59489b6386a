"""Moving data between Faust, the pure partition processors, Kafka outputs and the tables.

Every step (a fetched batch of records, or a timer tick) runs under one lock and in this order:
1. decode and stage the batch's events (bad ones become dead letters), skipping offsets at or
   below the partition's checkpoint (redelivered after a restart);
2. advance every owned partition's watermark, collecting enriched records, inferred signals and
   too-late dead letters; on the owner of partition 0, merge all partitions' window partials
   into metric records;
3. produce every output (without waiting);
4. at most every `checkpoint_interval_s` (and before a rebalance): wait until Kafka acknowledged
   every output produced so far, then write the changed state to the tables and flush the Redis
   store: sessions, staged entries, window partials and the checkpointed input offsets, in one
   MULTI/EXEC (a checkpoint);
5. after a checkpoint, now and then (Faust's `broker_commit_interval`), commit checkpoint + 1
   as the consumer group's offsets.
Faust's own acking is off for the inputs (a cancelled or skipped batch would still be acked), so
the group's committed offsets never pass the checkpoint: whoever owns a partition next starts
at or before it and skips what was applied. A crash between checkpoints re-runs the steps since
the last one from its offsets and re-produces the same outputs (consumers deduplicate by
`event_id`). Checkpointing after every step rewrote a session touched by several steps once
per step and waited for Kafka every step (docs/processor.md, Performance).

Outages: when Redis or Kafka does not answer (connection refused, a timeout, outputs not
acknowledged in time), the checkpoint is retried as a whole, with backoff, under the lock (so no
step runs meanwhile) and the worker reports itself degraded; a flush that failed put its writes
back, and writing them twice is harmless (redis_state.py). After `max_outage_s` the worker exits
as for any failed step (outage.py, docs/reliability.md). The Redis reads of a step (the metrics
finalizer's) run in a thread, so a paused Redis does not block the event loop (and the
consumer's heartbeats); when they fail, the step publishes no metrics and checkpoints at once.

Rebalances: Faust drains the streams, then signals the revocation; the runtime waits for the
step in flight (a timer tick can be one), commits, and pauses until Faust signals the new
assignment, whose new partitions the Redis store has loaded by then. No step straddles a
rebalance, so none writes state for a partition that another worker may already own.
"""

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence, Set
from typing import Any

import orjson
from faust.types import TP, AppT

from plumbing.crash_points import CrashPoints
from schemas.extension import ExtensionEncoder
from schemas.partitioning import partition_for
from schemas.serializer import serializer_for
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, INTERACTIONS, METRICS, SIGNALS
from stream_processors import telemetry
from stream_processors.batch_transport import ConsumedRecord
from stream_processors.end_offsets import EndOffsets
from stream_processors.erasures import ProcessorErasures
from stream_processors.exceptions import DependencyOutageError
from stream_processors.finalizer import MetricsFinalizer
from stream_processors.intake import EventDecoder, Rejection, dead_letter_record
from stream_processors.metrics import window_start_of
from stream_processors.metrics_collector import FINALIZER_KEY, MetricsCollector, window_item
from stream_processors.metrics_round import finalize_round
from stream_processors.offset_gaps import GapVerdict, OffsetGaps
from stream_processors.outage import OutageTracker, broker_unreachable, unavailable_dependency
from stream_processors.outputs import OutputProducer
from stream_processors.partition import Outputs, PartitionConfig, PartitionProcessor
from stream_processors.redis_store import RedisStore
from stream_processors.settings import ProcessorSettings
from stream_processors.tables import PartitionedTable, window_range

__all__ = ["ProcessorRuntime"]

log = logging.getLogger(__name__)
_FINALIZER_PARTITION = 0
# A topic that showed events this recently is not asked about at the broker (see _caught_up).
_CONFIRM_AFTER_SILENCE_MS = 100.0
# Per checkpoint attempt: how long outputs may stay unacknowledged before the worker counts
# Kafka as unavailable (normally milliseconds), and how long it waits for an offset commit
# (aiokafka retries one forever while the broker is away; it goes on in the background).
_ACK_WAIT_S = 10.0
_COMMIT_WAIT_S = 5.0
# librdkafka keeps retrying an output this long beyond `max_outage_s`: it never gives up on
# one during an outage the worker rides out.
_OUTPUT_TIMEOUT_MARGIN_S = 60.0
# Test hook (tests/e2e): FEEDBACK_PROCESSOR_CRASH_AT=finals_persisted[:n] kills the worker right
# after the n-th checkpoint that persisted finals, before it sends them.
CRASH_POINTS = CrashPoints("FEEDBACK_PROCESSOR_CRASH_AT")


def _now_ms() -> float:
    return time.monotonic() * 1000.0


class ProcessorRuntime:
    """The worker's moving parts; the Faust agent and timer call `on_batch` and `on_tick`."""

    def __init__(
        self,
        app: AppT,
        settings: ProcessorSettings,
        sessions: PartitionedTable,
        entries: PartitionedTable,
        progress: PartitionedTable,
        partials: PartitionedTable,
    ) -> None:
        self.app = app
        self.settings = settings
        namespace = settings.namespace or None
        self.inputs = [spec.in_namespace(namespace) for spec in INPUT_TOPICS]
        self.input_names = {spec.name for spec in self.inputs}
        self.partition_count = self.inputs[0].partitions
        self.enriched_topic = ENRICHED.in_namespace(namespace).name
        self.metrics_topic = METRICS.in_namespace(namespace).name
        self.deadletter_topic = DEADLETTER.in_namespace(namespace).name
        self.signals_topic = SIGNALS.in_namespace(namespace).name
        self.decoder = EventDecoder(
            self.inputs, settings.max_value_bytes, int(settings.max_future_skew_s * 1000)
        )
        # Enriched records reuse their interaction message's body (schemas.extension).
        # Outputs are written in the namespace's wire format (FEEDBACK_WIRE_*).
        self._enriched_encoder = ExtensionEncoder(
            serializer_for(ENRICHED.in_namespace(namespace)),
            serializer_for(INTERACTIONS.in_namespace(namespace)),
        )
        self._encoders = {
            "metrics": serializer_for(METRICS.in_namespace(namespace)),
            "deadletter": serializer_for(DEADLETTER.in_namespace(namespace)),
        }
        self.sessions, self.entries = sessions, entries
        self.progress, self.partials = progress, partials
        self.config = PartitionConfig(
            abandon_after_ms=int(settings.abandon_after_s * 1000),
            grace_ms=int(settings.feedback_grace_s * 1000),
            lead_ms=int(settings.feedback_lead_s * 1000),  # clamped by PartitionConfig
            lateness_ms=settings.allowed_lateness_ms,
            idle_timeout_ms=int(settings.idle_timeout_s * 1000),
            window_ms=settings.metrics_window_s * 1000,
            window_grace_ms=int(settings.metrics_window_grace_s * 1000),
            sample_size=settings.latency_sample_size,
            max_session_turns=settings.max_session_turns,
        )
        self.processors: dict[int, PartitionProcessor] = {}
        self.finalizer: MetricsFinalizer | None = None
        self.producer: OutputProducer | None = None
        self.end_offsets: EndOffsets | None = None
        self.collector: MetricsCollector | None = None
        self.lock = asyncio.Lock()
        # late: events that reached the worker after their partition's watermark passed them.
        self.stats = {
            "events": 0,
            "dead_letters": 0,
            "duplicates": 0,
            "late": 0,
            "outputs": 0,
            "woke": 0,  # partitions that did the finals handshake (_hold_finals)
            "misplaced": 0,  # sessions on a partition their key does not map to
            "capped": 0,  # sessions closed at max_session_turns
            "erased_events": 0,  # dropped on arrival: an erasure covers them (erasures.py)
            "erased_sessions": 0,  # forgotten: an erasure covers them
        }
        self.erasures = ProcessorErasures.from_settings(settings)
        self._misplaced_said_at = float("-inf")
        self._events_in: dict[str, int] = defaultdict(int)  # per topic, counted once a step
        self._last_report = time.monotonic()
        self._last_records_at = time.monotonic()
        self._updates_at = float("-inf")
        self.timings: dict[str, float] = {}  # seconds per step phase, for profiling
        self.paused = False  # between a revocation and the next assignment
        # Seek every owned input partition to its checkpoint + 1 at the next step: after an
        # assignment, and whenever fetched records were left unapplied.
        self._reread_from_checkpoints = False
        self._committed: dict[TP, int] = {}
        self.gaps = OffsetGaps()
        # Log start offset of each owned input partition without a checkpoint (_learn_log_starts).
        self._log_start: dict[TP, int] = {}
        self._idle: dict[int, bool] = {}
        self._committed_at = float("-inf")
        self._checkpointed_at = float("-inf")
        self._commit_interval_s = float(app.conf.broker_commit_interval)
        self._commit_in_flight: asyncio.Future[bool] | None = None
        self.outages = OutageTracker(settings.max_outage_s)
        self._redis_failed = False  # a step's Redis read failed: checkpoint (and retry) now
        _GC_CLOCK.start()
        self._gc_seconds_before = _GC_CLOCK.seconds

    # -- entry points --------------------------------------------------------------------------

    async def on_batch(self, records: Sequence[ConsumedRecord]) -> None:
        telemetry.BATCH_SIZE.observe(len(records))
        self._last_records_at = time.monotonic()
        async with self.lock:
            if self.paused:
                # Not applied, not committed: the next step seeks back to the checkpoints, so
                # these events come again.
                self._reread_from_checkpoints = True
                log.info("rebalancing: %d events left for redelivery", len(records))
                return
            await self._guard(self._step(records))

    async def on_tick(self) -> None:
        async with self.lock:
            if self.paused:
                return
            await self._guard(self._step([]))
        _GC_CLOCK.log_slow_pauses()
        now = time.monotonic()
        if now - self._last_report >= 10.0:
            self._last_report = now
            _freeze_survivors()
            await self._check_fetching(now)
            log.info(
                "processor stats: %s, partitions %s, step seconds %s, fetching %s",
                self.stats,
                sorted(self.processors),
                {name: round(value, 2) for name, value in self.step_timings().items()},
                getattr(self.app.consumer, "drain", None),
            )

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        """Finish the step in flight, checkpoint and commit, and pause until the assignment."""
        async with self.lock:
            self.paused = True
            await self._guard(self._checkpoint(force_commit=True))

    async def on_partitions_assigned(self, assigned: Set[TP]) -> None:
        """Resume: the next step loads the newly assigned partitions from the store."""
        async with self.lock:
            self.paused = False
            self._reread_from_checkpoints = True
            self._last_records_at = time.monotonic()

    async def _check_fetching(self, now: float) -> None:
        """Watchdog of the fetch loop. Nothing fetched for half of `fetch_stall_timeout_s`
        while an owned partition has unread records (by the broker's end offsets): read again
        from the checkpoints. For all of it: exit (code 70, crash-only) so that a restart, or
        another worker, picks the partitions up; a stalled worker would otherwise hold its
        partitions, and the final metrics of every partition, forever."""
        stalled_s = now - self._last_records_at
        timeout_s = self.settings.fetch_stall_timeout_s
        if self.paused or not self.processors or stalled_s < timeout_s / 2:
            return
        owned = [TP(topic, p) for p in self.processors for topic in self.input_names]
        try:
            ends = await self._end_offsets().latest(owned)
        except Exception as exc:  # the broker cannot answer: that is not a stalled fetch
            self._last_records_at = now  # (nor is the time it is away: count from its return)
            self._probed_broker(exc)
            return
        self._probed_broker(None)
        unread = {}
        for tp, end in ends.items():
            processor = self.processors.get(tp.partition)  # None: revoked meanwhile
            checkpoint = processor.offsets.get(tp.topic, -1) if processor else end
            if end > checkpoint + 1:
                unread[f"{tp.topic}[{tp.partition}]"] = end - 1 - checkpoint
        if unread and stalled_s < timeout_s:
            log.warning(
                "nothing fetched for %.0f s while partitions have unread records %s: reading "
                "again from the checkpoints",
                stalled_s,
                unread,
            )
            self._reread_from_checkpoints = True
        elif unread:
            log.critical(
                "nothing fetched for %.0f s while partitions have unread records %s (fetching: "
                "%s): exiting to be restarted",
                stalled_s,
                unread,
                getattr(self.app.consumer, "drain", None),
            )
            logging.shutdown()
            os._exit(70)

    def step_timings(self) -> dict[str, float]:
        """Seconds per step phase since the runtime started, and in garbage collections ("gc")."""
        return {**self.timings, "gc": _GC_CLOCK.seconds - self._gc_seconds_before}

    async def _guard(self, step: Any) -> None:
        try:
            await step
        except DependencyOutageError as exc:
            log.critical("%s", exc)
            logging.shutdown()
            os._exit(70)
        except Exception:
            # Crash-only: the checkpoint in Redis is consistent by construction, so the safe
            # reaction to anything unexpected is to stop and let a restart resume from it.
            log.critical(
                "processor step failed; exiting to resume from the checkpoint", exc_info=True
            )
            logging.shutdown()
            os._exit(70)

    # -- one step ------------------------------------------------------------------------------

    async def _step(self, records: Iterable[ConsumedRecord]) -> None:
        clock = time.perf_counter
        started = clock()
        now = _now_ms()
        if await self.erasures.poll():
            for partition, processor in sorted(self.processors.items()):
                self._forget_erased(partition, processor)
        owned = self._sync_assignment(now)
        await self._learn_log_starts()
        outputs: dict[int, Outputs] = {}
        dead_letters: list[tuple[bytes | None, dict[str, Any]]] = []
        wall_ms = int(time.time() * 1000)  # the future_event_time check's clock
        for consumed in records:
            self._ingest(consumed, owned, now, wall_ms, dead_letters)
        if records:
            self.outages.reachable("kafka")  # fetched from it
        for topic, count in self._events_in.items():
            telemetry.EVENTS_IN.labels(topic).inc(count)
        self._events_in.clear()
        for tp, offset in self.gaps.take_seeks().items():
            await self.app.consumer.seek(tp, offset)
        if self._reread_from_checkpoints:
            self._reread_from_checkpoints = False
            await self._seek_to_checkpoints()
        await self._hold_finals()
        ingested = clock()
        caught_up = await self._caught_up(now)
        for partition in sorted(self.processors):
            outputs[partition] = self.processors[partition].advance(
                now, caught_up[partition], self.input_names
            )
            self._log_idle_change(partition)
        advanced = clock()
        metric_records = await self._finalize_off_loop(now)
        finalized = clock()
        producer = self._producer()
        for partition in sorted(outputs):
            self._send_outputs(producer, outputs[partition])
        for key, record in dead_letters:
            producer.send(self.deadletter_topic, key, self._encoders["deadletter"].encode(record))
        updates = [r for r in metric_records if not r["is_final"]]  # finals: in the outbox
        self._send_metrics(producer, updates)
        for topic, count in (
            (self.enriched_topic, sum(len(o.enriched) for o in outputs.values())),
            (self.signals_topic, sum(len(o.inferred_signals) for o in outputs.values())),
            (
                self.deadletter_topic,
                len(dead_letters)
                + sum(len(o.too_late) + len(o.unknown_interaction) for o in outputs.values()),
            ),
            (self.metrics_topic, len(updates)),
        ):
            if count:
                telemetry.OUTPUTS.labels(topic).inc(count)
        encoded = clock()
        delivered = persisted = encoded
        interval_s = self.settings.checkpoint_interval_s
        if self._redis_failed or time.monotonic() - self._checkpointed_at >= interval_s:
            delivered = await self._checkpoint()
            persisted = clock()
            if self.finalizer is not None:
                # Persisted by that checkpoint with the state that made them final (a forced
                # checkpoint instead cost 16% of the catch-up throughput: finals are due at
                # almost every step then).
                if self.finalizer.outbox:
                    CRASH_POINTS.crash("finals_persisted")
                finals = self.finalizer.take_outbox()
                self._send_metrics(producer, finals)
                if finals:
                    telemetry.OUTPUTS.labels(self.metrics_topic).inc(len(finals))
        self.stats["outputs"] = producer.sent
        telemetry.STEP_DURATION.observe(persisted - started)
        telemetry.PARTITIONS_OWNED.set(len(self.processors))
        for partition, processor in self.processors.items():
            if processor.watermark.value is not None:
                telemetry.WATERMARK.labels(str(partition)).set(processor.watermark.value / 1000)
            self._report_lag(partition, processor)
        for name, seconds in (
            ("ingest", ingested - started),
            ("advance", advanced - ingested),
            ("finalize", finalized - advanced),
            ("encode", encoded - finalized),
            ("deliver", delivered - encoded),
            ("persist", persisted - delivered),
        ):
            self.timings[name] = self.timings.get(name, 0.0) + seconds
        self.timings["steps"] = self.timings.get("steps", 0) + 1

    def _send_metrics(self, producer: OutputProducer, records: list[dict[str, Any]]) -> None:
        for record in records:
            key = f"{record['agent_id']}/{record['agent_version']}".encode()
            producer.send(self.metrics_topic, key, self._encoders["metrics"].encode(record))

    async def _seek_to_checkpoints(self) -> None:
        """Continue every owned input partition right after its checkpoint, or at its log start
        when nothing of it was applied yet: records fetched but not applied (e.g. while paused
        for a rebalance) are read again; those at or below the checkpoint are skipped on
        arrival."""
        for partition, processor in self.processors.items():
            for topic in sorted(self.input_names):
                checkpoint = processor.offsets.get(topic)
                tp = TP(topic, partition)
                offset = checkpoint + 1 if checkpoint is not None else self._log_start.get(tp)
                if offset is None:
                    continue
                try:
                    await self.app.consumer.seek(tp, offset)
                except Exception as exc:  # the assignment changed meanwhile
                    log.debug("seek of %s[%d] failed: %r", topic, partition, exc)

    async def _learn_log_starts(self) -> None:
        """The log start offset of every owned input partition nothing was applied from yet.

        Such a partition has no checkpoint to check its records against, so records fetched
        and left unapplied were not read again: in a rebalance, the new owner dropped the
        batch it fetched while paused, and the feedback partitions that had no checkpoint yet
        lost their first records for good (docs/reliability.md). The first record applied from
        a partition must be the first its log holds; a partition whose log start is unknown
        (the request failed) is read as before, and asked about again at the next step.
        """
        unknown = [
            TP(topic, partition)
            for partition, processor in self.processors.items()
            for topic in sorted(self.input_names)
            if topic not in processor.offsets and TP(topic, partition) not in self._log_start
        ]
        if not unknown:
            return
        try:
            starts = await self._end_offsets().earliest(unknown)
        except Exception as exc:  # broker unreachable, or the assignment just changed
            log.debug("log start offsets unavailable: %r", exc)
            self._probed_broker(exc)
            return
        self._log_start.update({tp: start for tp, start in starts.items() if start >= 0})

    def _log_idle_change(self, partition: int) -> None:
        """Say when a partition's watermark starts or stops following the wall clock: the moment
        to look at when sessions close earlier than their traffic says."""
        watermark = self.processors[partition].watermark
        if watermark.idle == self._idle.get(partition, False):
            return
        self._idle[partition] = watermark.idle
        log.info(
            "partition %d %s at watermark %s (latest event time per input: %s)",
            partition,
            "idle: its watermark follows the wall clock" if watermark.idle else "active again",
            watermark.value,
            watermark.source_max,
        )

    def _ingest(
        self,
        message: ConsumedRecord,
        owned: set[int],
        now: float,
        wall_ms: int,
        dead_letters: list[tuple[bytes | None, dict[str, Any]]],
    ) -> None:
        partition = message.partition
        if partition not in owned or message.topic not in self.input_names:
            return
        processor = self.processors[partition]
        checkpoint = processor.offsets.get(message.topic)
        if checkpoint is not None and message.offset <= checkpoint:
            return  # applied before (redelivered after a restart or a rebalance)
        if checkpoint is None:
            start = self._log_start.get(TP(message.topic, partition))
            if start is not None:  # nothing applied yet: the log's first record comes first
                checkpoint = start - 1
        in_order = checkpoint is None or message.offset == checkpoint + 1
        if not in_order or self.gaps.rewinding:
            verdict = self.gaps.check(
                TP(message.topic, partition), message.offset, checkpoint, now / 1000.0
            )
            if verdict is GapVerdict.DROP:
                return
        self.stats["events"] += 1
        self._events_in[message.topic] += 1
        timestamp = message.timestamp if message.timestamp and message.timestamp > 0 else None
        sent_at = wall_ms if timestamp is None else min(timestamp, wall_ms)
        try:
            decoded = self.decoder.decode(message.topic, message.key, message.value, sent_at)
        except Exception as exc:  # a bug must not stop the worker on one record
            decoded = Rejection("processing_error", f"{type(exc).__name__}: {exc}")
        if isinstance(decoded, Rejection) or decoded is None:
            processor.skip(message.topic, message.offset)
            if decoded is not None and self.erasures.covers_key(message.key):
                self.stats["erased_events"] += 1
                telemetry.ERASED.labels("events").inc()
            elif decoded is not None:
                self.stats["dead_letters"] += 1
                telemetry.DEAD_LETTERS.labels(decoded.reason).inc()
                dead_letters.append(
                    self._dead_letter(
                        decoded.reason,
                        decoded.message,
                        message.topic,
                        partition,
                        message.offset,
                        timestamp,
                        message.key,
                        message.value,
                    )
                )
            return
        if self.erasures.covers_record(decoded):
            processor.skip(message.topic, message.offset)
            self.stats["erased_events"] += 1
            telemetry.ERASED.labels("events").inc()
            return
        watermark = processor.watermark.value
        late = watermark is not None and decoded["event_time"] < watermark
        # What the inputs showed before it, logged once it is known not to be a duplicate.
        shown = self._inputs_shown(processor, now) if late else ""
        entry = {
            "kind": self.decoder.kind_of(message.topic),
            "record": decoded,
            "src": [message.topic, partition, message.offset, timestamp],
            "value": message.value,  # the original bytes: persisted as they are, see _persist
        }
        if decoded["session_id"] not in processor.sessions:
            self._check_placement(message.topic, partition, decoded["session_id"])
        if not processor.ingest(message.topic, message.offset, entry, now, sent_at):
            self.stats["duplicates"] += 1
            telemetry.DUPLICATES.inc()
        elif late:
            self._note_late(processor, message, decoded["event_time"], shown)

    def _check_placement(self, topic: str, partition: int, session_id: str) -> None:
        """Count, and say (at most once a minute), a session whose events came to a partition
        other than the one Kafka's default partitioning gives its key. Its producer partitions
        otherwise (librdkafka's default, CRC-32): harmless while every producer of the session
        does the same, but its events never meet those of a producer that partitions as Kafka
        does (the SDK, the gateway, a Java agent), docs/producer.md "Partitioning". Checked
        once per session a partition starts to hold, not per event."""
        expected = self._misplaced(session_id, partition)
        if expected is None:
            return
        self.stats["misplaced"] += 1
        telemetry.MISPLACED_SESSIONS.labels(topic).inc()
        now = time.monotonic()
        if now - self._misplaced_said_at < 60.0:
            return
        self._misplaced_said_at = now
        log.warning(
            "%s[%d]: session %r is keyed to partition %d by Kafka's default partitioning "
            "(murmur2), not %d: its producer partitions otherwise, and its events cannot meet "
            "those of producers that partition as Kafka does (%d such sessions so far; "
            "docs/producer.md, Partitioning)",
            topic,
            partition,
            session_id,
            expected,
            partition,
            self.stats["misplaced"],
        )

    def _misplaced(self, session_id: str, partition: int) -> int | None:
        """The partition Kafka's default partitioning gives the session's key, when that is
        not `partition` (None otherwise)."""
        expected = partition_for(session_id.encode(), self.partition_count)
        return None if expected == partition else expected

    def _placement_hint(self, session_id: str, partition: int) -> str:
        """For a dead letter of a session on a partition its key does not map to."""
        expected = self._misplaced(session_id, partition)
        if expected is None:
            return ""
        return (
            f" (its key maps to partition {expected} by Kafka's default partitioning, not "
            f"{partition}: its producer partitions otherwise; docs/producer.md, Partitioning)"
        )

    def _inputs_shown(self, processor: PartitionProcessor, now: float) -> str:
        """Latest event time and wall-clock silence (ms) of each input of a partition."""
        watermark = processor.watermark
        return ", ".join(
            f"{topic}: {watermark.source_max.get(topic)} silent "
            f"{_ms(watermark.silent_for(topic, now))}"
            for topic in sorted(self.input_names)
        )

    def _note_late(
        self, processor: PartitionProcessor, message: ConsumedRecord, event_time: int, shown: str
    ) -> None:
        """Count an event that reached its partition after the watermark passed it: the one case
        in which results can differ from the batch reference (docs/semantics.md). When its
        metrics window was already closed for the partition, its counts go to a later window:
        say so, with what each input had shown before it, which is what explains the watermark."""
        self.stats["late"] += 1
        window_ms = self.config.window_ms
        window = window_start_of(event_time, window_ms)
        if window + window_ms > (processor.frozen_before or 0):
            return
        log.info(
            "%s[%d]@%d: event time %d came %d ms (event time) after the watermark passed it; "
            "its window %d was closed for this partition, so its metric counts go to a later "
            "one (before it, latest event time and silence in ms per input: %s)",
            message.topic,
            message.partition,
            message.offset,
            event_time,
            (processor.watermark.value or 0) - event_time,
            window,
            shown,
        )

    def _dead_letter(
        self,
        reason: str,
        text: str,
        topic: str,
        partition: int,
        offset: int,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
    ) -> tuple[bytes | None, dict[str, Any]]:
        record = dead_letter_record(
            reason,
            text,
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=timestamp,
            key=key,
            value=value,
            max_bytes=self.settings.dead_letter_max_bytes,
        )
        return f"{topic}/{partition}/{offset}".encode(), record

    def _send_outputs(self, producer: OutputProducer, outputs: Outputs) -> None:
        encode_enriched = self._enriched_encoder.encode
        for record, message in zip(outputs.enriched, outputs.enriched_messages, strict=True):
            producer.send(
                self.enriched_topic, record["session_id"].encode(), encode_enriched(record, message)
            )
        for record in outputs.inferred_signals:
            producer.send(
                self.signals_topic,
                record["session_id"].encode(),
                self.decoder.encode(self.signals_topic, record),
            )
        for session_id, closed_at, turns in outputs.capped:
            self.stats["capped"] += 1
            log.warning(
                "session %s reached max_session_turns (%d turns): closed as unknown at %d, its "
                "next turn begins a new session (is one session id used for every conversation?)",
                session_id,
                turns,
                closed_at,
            )
        refused = [("too_late", entry, text) for entry, text in outputs.too_late]
        refused += [
            ("unknown_interaction", entry, text) for entry, text in outputs.unknown_interaction
        ]
        for reason, entry, text in refused:
            topic, partition, offset, timestamp = entry["src"]
            record = entry["record"]
            self.stats["dead_letters"] += 1
            telemetry.DEAD_LETTERS.labels(reason).inc()
            key, letter = self._dead_letter(
                reason,
                text + self._placement_hint(record["session_id"], partition),
                topic,
                partition,
                offset,
                timestamp,
                record["session_id"].encode(),
                entry["value"],
            )
            producer.send(self.deadletter_topic, key, self._encoders["deadletter"].encode(letter))

    # -- partitions ----------------------------------------------------------------------------

    async def _caught_up(self, now: float) -> dict[int, set[str]]:
        """Per owned partition, the input topics read to their end (only those may go idle).

        The consumer's high watermarks come with fetch responses and can be old, e.g. just after
        a rebalance, when nothing was fetched for seconds while producers went on; trusting
        them lets a partition go idle too early (its watermark then runs ahead with the wall
        clock and closes live sessions). So a topic that looks read to its end, or whose high
        watermark is not known yet, is confirmed against the broker's end offset (one request
        for all of them); when that fails, it counts as not read to its end. Only topics silent
        for `_CONFIRM_AFTER_SILENCE_MS` are asked about: one that showed events just now holds
        the watermark back anyway, and asking every step cost a broker round trip per step in
        live traffic.
        """
        caught_up: dict[int, set[str]] = {partition: set() for partition in self.processors}
        candidates = [
            TP(topic, partition)
            for partition, processor in self.processors.items()
            for topic in self.input_names
            if processor.watermark.silent_for(topic, now) >= _CONFIRM_AFTER_SILENCE_MS
            and (
                (highwater := self._highwater(topic, partition)) is None
                or processor.offsets.get(topic, -1) >= highwater - 1
            )
        ]
        if not candidates:
            return caught_up
        try:
            ends = await self._end_offsets().latest(candidates)
        except Exception as exc:  # broker unreachable, or the assignment just changed
            log.debug("end offsets unavailable (%r): no input counts as read to its end", exc)
            self._probed_broker(exc)
            return caught_up
        self._probed_broker(None)
        for tp in candidates:
            end = ends.get(tp)
            if end is None or end < 0:
                continue  # unknown (the broker answered without an offset): not read to its end
            processor = self.processors[tp.partition]
            if processor.offsets.get(tp.topic, -1) >= end - 1:
                caught_up[tp.partition].add(tp.topic)
        return caught_up

    def _probed_broker(self, error: BaseException | None) -> None:
        """A request to the broker answered (None) or failed: the worker's view of Kafka when
        no checkpoint waits for it (a broker away while nothing is to be sent fails none)."""
        if error is None:
            self.outages.reachable("kafka")
        elif broker_unreachable(error):
            self.outages.unreachable("kafka", error)

    def _highwater(self, topic: str, partition: int) -> int | None:
        """The consumer's last known end offset of a partition (no broker request)."""
        try:
            highwater = self.app.consumer.highwater(TP(topic, partition))
        except Exception:  # not fetched yet, or the assignment just changed
            return None
        return None if highwater is None else int(highwater)

    def _report_lag(self, partition: int, processor: PartitionProcessor) -> None:
        for topic in self.input_names:
            highwater = self._highwater(topic, partition)
            if highwater is not None:
                lag = max(0, highwater - processor.offsets.get(topic, -1) - 1)
                telemetry.CONSUMER_LAG.labels(topic, str(partition)).set(lag)

    def _sync_assignment(self, now: float) -> set[int]:
        """Load processors of newly owned partitions, forget revoked ones."""
        assignment = self.app.consumer.assignment()
        owned = {tp.partition for tp in assignment if tp.topic in self.input_names}
        for partition in set(self.processors) - owned:
            del self.processors[partition]
            for topic in self.input_names:
                self._committed.pop(TP(topic, partition), None)
                self._log_start.pop(TP(topic, partition), None)
            self.gaps.forget(partition)
            self._idle.pop(partition, None)
            for topic in self.input_names:
                with contextlib.suppress(KeyError):  # KeyError: never reported
                    telemetry.CONSUMER_LAG.remove(topic, str(partition))
            if partition == _FINALIZER_PARTITION:
                self.finalizer = None
        for partition in sorted(owned - set(self.processors)):
            self.processors[partition] = self._load(partition, now)
        return owned

    def _store(self, table: PartitionedTable) -> RedisStore:
        store = table.data
        assert isinstance(store, RedisStore), f"table {table.name} must use a redis:// store"
        return store

    def _load(self, partition: int, now: float) -> PartitionProcessor:
        progress = None
        finalizer_state = None
        for key, value in self._store(self.progress).partition_items(partition):
            if key == str(partition).encode():
                progress = orjson.loads(value)
            elif key == FINALIZER_KEY.encode():
                finalizer_state = orjson.loads(value)
        entries: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for _, value in self._store(self.entries).partition_items(partition):
            # By the record's own ids, not by splitting the key at "/": an agent's event ids
            # may hold one ("conv-7/msg-3"), and the partition could not be loaded again.
            entry = self._entry_from_bytes(value)
            entries[entry["record"]["session_id"]][entry["record"]["event_id"]] = entry
        sessions = (
            orjson.loads(value)
            for _, value in self._store(self.sessions).partition_items(partition)
        )
        windows = (
            window_item(key, value)
            for key, value in self._store(self.partials).partition_items(partition)
        )
        processor = PartitionProcessor.from_state(
            partition, self.config, now, progress, sessions, windows, entries
        )
        if partition == _FINALIZER_PARTITION:
            self.finalizer = MetricsFinalizer(
                self.config.window_ms,
                self.settings.metrics_update_interval_s * 1000,
                self.config.sample_size,
                finalizer_state,
            )
        log.info(
            "partition %d loaded: %d sessions, %d windows, watermark %s",
            partition,
            len(processor.sessions),
            len(processor.windows),
            processor.watermark.value,
        )
        if self.erasures.identities:
            self._forget_erased(partition, processor)
        return processor

    def _forget_erased(self, partition: int, processor: PartitionProcessor) -> None:
        """Forget the sessions the erasures read so far cover (`erasures.py`)."""
        gone, changed = processor.erase(self.erasures.covers_record)
        if gone:
            self.stats["erased_sessions"] += len(gone)
            telemetry.ERASED.labels("sessions").inc(len(gone))
            log.info("partition %d: forgot %d sessions of erased users", partition, len(gone))
        if changed:
            log.info(
                "partition %d: removed erased users' events from %d other sessions",
                partition,
                changed,
            )

    # -- metrics -------------------------------------------------------------------------------

    async def _hold_finals(self) -> None:
        """Before applying events that may add to windows the finalizer can publish without
        waiting for their partition (it was idle, or busy only in memory): persist that it holds
        windows back, then read how far the finalizer published or announced it will, and add
        nothing up to there (the handshake in PartitionProcessor's "finals" section)."""
        woken = [p for p in self.processors.values() if p.must_hold_finals]
        if not woken:
            return
        self.stats["woke"] += len(woken)
        for processor in woken:
            processor.hold_finals()
        await self._checkpoint()
        while True:
            try:
                announced = await asyncio.to_thread(self._collector().announced_until)
                break
            except Exception as exc:
                if unavailable_dependency(exc) != "redis":
                    raise
                await asyncio.sleep(self.outages.failed("redis", exc))
        for processor in woken:
            processor.finals_held(announced)
        # Persisted before anything is counted: a new owner counts again where this one did.
        await self._checkpoint()

    async def _finalize_off_loop(self, now: float) -> list[dict[str, Any]]:
        """`_finalize` in a thread: its Redis reads must not block the event loop (heartbeats,
        the fetch loop) for a socket timeout when Redis is paused. No step runs meanwhile (the
        lock), so nothing else touches the processors. When Redis does not answer, no metrics
        are published in this step (nothing was changed yet: the reads come first) and the step
        checkpoints at once, which holds the steps until Redis is back."""
        try:
            return await asyncio.to_thread(self._finalize, now)
        except Exception as exc:
            if unavailable_dependency(exc) != "redis":
                raise
            log.debug("metrics not finalized in this step, Redis unavailable: %r", exc)
            self._redis_failed = True
            return []

    def _finalize(self, now: float) -> list[dict[str, Any]]:
        """On partition 0's owner: publish final/running metrics; everywhere: drop old windows.

        Reading every partition's partials from Redis is the expensive part: it happens only
        when a window became final or running updates are due (every update interval).
        """
        records: list[dict[str, Any]] = []
        collector = self._collector()
        if self.finalizer is None:
            finalized_until = collector.published_until()
        else:
            finalizer = self.finalizer
            updates_due = now - self._updates_at >= finalizer.update_interval_ms
            records = finalize_round(finalizer, collector, self.processors, now, updates_due)
            if updates_due:
                self._updates_at = now
            finalized_until = finalizer.finalized_until
        if finalized_until is not None:
            for processor in self.processors.values():
                processor.drop_windows_until(finalized_until)
        return records

    # -- persistence ---------------------------------------------------------------------------

    async def _checkpoint(self, force_commit: bool = False) -> float:
        """Wait until Kafka acknowledged the outputs, then persist the state (one MULTI/EXEC),
        then commit; return the (perf_counter) time the outputs were acknowledged.

        While Redis or Kafka is unavailable, the whole checkpoint is tried again with backoff,
        never a half of it: waiting again for outputs already acknowledged costs nothing, and a
        flush that failed put its writes back to be sent again. The caller holds the step lock,
        so no step runs meanwhile and nothing is applied without its checkpoint; the watermark
        sees the stretch without steps as time it knows nothing about (watermark.py). Anything
        else, or an outage longer than `max_outage_s`, raises (crash-only).
        """
        while True:
            try:
                if self.producer is not None:
                    await self.producer.wait(_ACK_WAIT_S)
                delivered = time.perf_counter()
                await self._persist()
                break
            except Exception as exc:
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    raise
                await asyncio.sleep(self.outages.failed(dependency, exc))
        self._redis_failed = False
        if self.outages.recovered():
            # The fetch watchdog would take the outage for a stalled fetch loop.
            self._last_records_at = time.monotonic()
        await self._commit(force_commit)
        return delivered

    async def _persist(self) -> None:
        """Write every processor's changed state into the tables and flush them atomically."""
        window_s = self.settings.metrics_window_s
        sessions, entries = self._store(self.sessions), self._store(self.entries)
        dumps = orjson.dumps
        for partition, processor in self.processors.items():
            changes = processor.dirty_state()
            if not changes:
                continue
            prefix = f"{partition}/"
            session_writes: list[tuple[bytes, bytes | None]] = [
                ((prefix + sid).encode(), dumps(state)) for sid, state in changes.sessions.items()
            ]
            session_writes += [((prefix + sid).encode(), None) for sid in changes.deleted_sessions]
            sessions.write_partition(partition, session_writes)
            entry_writes: list[tuple[bytes, bytes | None]] = [
                (f"{prefix}{sid}/{eid}".encode(), _entry_bytes(entry))
                for (sid, eid), entry in changes.entries.items()
            ]
            entry_writes += [
                (f"{prefix}{sid}/{eid}".encode(), None) for sid, eid in changes.released_entries
            ]
            entries.write_partition(partition, entry_writes)
            for (agent_id, version, start), state in changes.windows.items():
                key = ((partition, agent_id, version), window_range(start, window_s))
                self.partials[key] = dumps(state)
            for agent_id, version, start in changes.deleted_windows:
                del self.partials[((partition, agent_id, version), window_range(start, window_s))]
            if changes.progress is not None:
                self.progress[str(partition)] = dumps(changes.progress)
        if self.finalizer is not None and self.finalizer.dirty:
            self.progress[FINALIZER_KEY] = dumps(self.finalizer.to_state())
            self.finalizer.dirty = False
        # In a thread: a paused Redis must not block the event loop for a socket timeout.
        await asyncio.to_thread(self._store(self.progress).flush)
        self._checkpointed_at = time.monotonic()

    def _entry_from_bytes(self, data: bytes) -> dict[str, Any]:
        """A staged entry persisted by `_entry_bytes`, decoded again from its original bytes."""
        header, value = data.split(b"\n", 1)
        kind, src = orjson.loads(header)
        record = self.decoder.decode_accepted(src[0], value)
        return {"kind": kind, "record": record, "src": src, "value": value}

    async def _commit(self, force: bool = False) -> None:
        """Commit checkpoint + 1 of every owned input partition as the group's offset.

        Only checkpoints already flushed to Redis are committed, so the group's offsets never
        pass what the state holds. Faust's public commit commits acked messages; acking is off
        for the inputs, so this uses the consumer's offset commit directly.

        aiokafka retries a commit until the broker answers; the step waits `_COMMIT_WAIT_S` for
        it, then leaves it running (its offsets count as committed when it succeeds) and starts
        no other until it ended, so commits never overtake each other. A late commit costs
        nothing but re-reading: whoever owns a partition next skips what its checkpoint holds.
        """
        now = time.monotonic()
        if not force and now - self._committed_at < self._commit_interval_s:
            return
        if self._commit_in_flight is not None and not self._commit_in_flight.done():
            return
        offsets = {
            TP(topic, partition): offset + 1
            for partition, processor in self.processors.items()
            for topic, offset in processor.offsets.items()
            if offset + 1 > self._committed.get(TP(topic, partition), 0)
        }
        self._committed_at = now
        if not offsets:
            return
        commit = asyncio.ensure_future(self.app.consumer._commit(offsets))  # type: ignore[attr-defined]
        commit.add_done_callback(lambda done: self._committed_if(done, offsets))
        self._commit_in_flight = commit
        try:
            await asyncio.wait_for(asyncio.shield(commit), _COMMIT_WAIT_S)
        except TimeoutError:
            log.warning(
                "offset commit not answered after %.0f s: left running in the background",
                _COMMIT_WAIT_S,
            )

    def _committed_if(self, commit: "asyncio.Future[bool]", offsets: dict[TP, int]) -> None:
        if commit.cancelled():
            return
        if commit.exception() is not None:
            log.warning("offset commit failed: %r", commit.exception())
        elif commit.result():
            self._committed.update(offsets)

    def _collector(self) -> MetricsCollector:
        if self.collector is None:
            self.collector = MetricsCollector(
                self._store(self.progress).writer,
                self.progress.name,
                self.partials.name,
                self.partition_count,
                self.config,
            )
        return self.collector

    def _end_offsets(self) -> EndOffsets:
        if self.end_offsets is None:
            self.end_offsets = EndOffsets(self.settings.bootstrap_servers)
        return self.end_offsets

    def _producer(self) -> OutputProducer:
        if self.producer is None:
            timeout_s = self.settings.max_outage_s + _OUTPUT_TIMEOUT_MARGIN_S
            self.producer = OutputProducer(
                self.settings.bootstrap_servers, {"message.timeout.ms": int(timeout_s * 1000)}
            )
        return self.producer


def _ms(value: float) -> int | None:
    """Milliseconds for a log line (None: never)."""
    return None if value == float("inf") else round(value)


class _GarbageCollectionClock:
    """The time this process spent in garbage collections, and the slow ones.

    One callback for the whole process: `gc.callbacks` is process-wide, and a callback per
    runtime kept every runtime a process built alive (Faust's signals keep them too) and ran
    each one's code in every collection (the test suite builds dozens of runtimes).

    The callback only records: a collection runs wherever an allocation triggers it (inside
    logging, inside another library's output), so it must not log. It did until 7 Dec: in a
    process that had built a worker, any slow collection later logged from wherever it ran,
    once through a handler whose stream was already closed, into a CLI command's output. The
    worker logs the slow pauses itself, on its tick (`log_slow_pauses`).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        self._running = False
        # (generation, seconds, collected) of collections that took 0.1 s or more, unlogged.
        self.slow: deque[tuple[int, float, int]] = deque(maxlen=100)

    def start(self) -> None:
        if not self._running:
            gc.callbacks.append(self._on_collection)
            self._running = True

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        elapsed = time.perf_counter() - self._started
        self.seconds += elapsed
        if elapsed >= 0.1:  # a pause that shows in latency
            self.slow.append((info.get("generation", -1), elapsed, info.get("collected", 0)))

    def log_slow_pauses(self) -> None:
        while self.slow:
            generation, elapsed, collected = self.slow.popleft()
            log.info(
                "garbage collection of generation %d took %.2f s (%d collected)",
                generation,
                elapsed,
                collected,
            )


_GC_CLOCK = _GarbageCollectionClock()


def _freeze_survivors() -> None:
    """Exclude every object alive now from later garbage collections (`gc.freeze`, O(1)).

    They are mostly the partitions' sessions and staged entries: long-lived, acyclic, and freed
    by reference counting when they go. Without this, each full collection walked all of them and
    paused the worker for a second (seen in the latency benchmark; the pauses are logged).
    Cyclic garbage alive at a freeze is never collected: a full collection after a minute of
    traffic found 451 such objects, a few hundred bytes each, so the leak is small.
    """
    gc.freeze()


def _entry_bytes(entry: dict[str, Any]) -> bytes:
    """How a staged entry is persisted: its kind and source as JSON, a newline (JSON from orjson
    has none outside strings, where it is escaped), then the original Avro bytes, which are
    smaller than the record as JSON and need no serialising."""
    return orjson.dumps([entry["kind"], entry["src"]]) + b"\n" + entry["value"]
