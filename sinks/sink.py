"""`DeltaSink`: a Kafka consumer group member that writes micro-batches to the lake exactly once.

The loop only moves data: consume a chunk, convert it column-wise, buffer it, and when the
batch is due commit it table by table (dead_letters first, so a crash never loses a dead letter
the primary table's offsets already cover). Where to resume comes from the Delta log on every
assignment; offsets committed to the Kafka group are a hint for lag monitoring only.
"""

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition

from plumbing.kafka_security import kafka_security
from schemas.catalog import SchemaCatalog, default_catalog
from schemas.lake import DEAD_LETTERS
from sinks.dead_letters import DeadLetterFactory
from sinks.decoded import DecodedConverter
from sinks.delta_writer import CommitResult, LakeTableWriter, PartitionKey
from sinks.erasure_gate import ErasureGate
from sinks.exceptions import SinkError
from sinks.lake import Lake
from sinks.lake_damage import translated_errors
from sinks.micro_batch import FlushPolicy, MicroBatch
from sinks.raw_events import RawEventConverter
from sinks.routes import Route, sink_routes
from sinks.settings import SinkSettings
from sinks.telemetry import SinkTelemetry

__all__ = ["DeltaSink", "SinkStats"]

logger = logging.getLogger(__name__)


@dataclass
class SinkStats:
    """Counters of one sink process (for logs, tests and the benchmark)."""

    messages: int = 0
    skipped: int = 0
    flushes: int = 0
    # Rows not written because an erasure in the ledger covers them, by table.
    erased: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_message_at: float | None = None  # time.time() of the first message taken
    last_commit_at: float | None = None


class DeltaSink:
    """Consumes every routed topic and appends to the lake's Delta tables."""

    def __init__(
        self,
        settings: SinkSettings,
        catalog: SchemaCatalog | None = None,
        telemetry: SinkTelemetry | None = None,
    ) -> None:
        catalog = catalog or default_catalog()
        self.settings = settings
        self.telemetry = telemetry or SinkTelemetry()
        self.routes: dict[str, Route] = sink_routes(settings.namespace)
        tables = {route.table.name: route.table for route in self.routes.values()}
        tables[DEAD_LETTERS.name] = DEAD_LETTERS
        self.writers = {
            name: LakeTableWriter(
                table,
                settings.lake_uri,
                settings.table_prefix,
                settings.sink_name,
                settings.storage_options,
                table.arrow_schema(catalog),
                settings.checkpoint_interval,
            )
            for name, table in tables.items()
        }
        # Commit order: dead letters first (see module docstring), raw_events last.
        self.commit_order = sorted(
            self.writers, key=lambda name: (name != DEAD_LETTERS.name, name == "raw_events")
        )
        self.dead_letters = DeadLetterFactory(settings.dead_letter_max_bytes, catalog)
        self.raw = RawEventConverter(
            {t: r.topic.value_record for t, r in self.routes.items() if r.conversion == "raw"},
            catalog,
            validate_bodies=settings.validate_raw_bodies,
        )
        self.decoded = {
            topic: DecodedConverter(route.table, self.dead_letters, catalog)
            for topic, route in self.routes.items()
            if route.conversion == "decoded"
        }
        self.batch = MicroBatch(
            FlushPolicy(settings.flush_rows, settings.flush_bytes, settings.flush_latency_s)
        )
        # Offsets at or below the floor are in the lake (or in the batch): skip them.
        self.floors: dict[PartitionKey, int] = {}
        self.gate = ErasureGate(
            settings.lake_uri, settings.table_prefix, dict(settings.storage_options)
        )
        self.stats = SinkStats()
        self.stopping = threading.Event()
        self._consumer: Consumer | None = None
        self._broken = False

    def consumer_config(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "bootstrap.servers": settings.bootstrap_servers,
            **kafka_security().librdkafka_config(),  # FEEDBACK_KAFKA_*
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": settings.start_from,
            # Eager rebalancing: every member gives up all partitions, flushes, and re-reads its
            # positions from the Delta log on the next assignment.
            "partition.assignment.strategy": "range",
            "session.timeout.ms": settings.session_timeout_ms,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 8 * 1024 * 1024,
            "queued.max.messages.kbytes": 262144,
            "fetch.wait.max.ms": 100,
            **settings.kafka_config,
        }

    def open_tables(self) -> None:
        """Create the lake tables that do not exist yet.

        A table whose log is broken raises `DamagedTableError` (one line: table, version, file,
        repair command; `feedbackctl sink` exits with its `exit_code`), before anything is
        consumed: the sink never writes past a log it cannot read.
        """
        settings = self.settings
        lake = Lake(settings.lake_uri, settings.table_prefix, dict(settings.storage_options))
        for name, writer in self.writers.items():
            with translated_errors(lake, name):
                _ = writer.delta

    def run(
        self,
        exit_when_idle_s: float | None = None,
        on_commit: Callable[["DeltaSink"], None] | None = None,
    ) -> SinkStats:
        """Consume until `stop()` (or idle for `exit_when_idle_s` with everything committed)."""
        self.open_tables()
        consumer = Consumer(self.consumer_config())
        self._consumer = consumer
        consumer.subscribe(
            list(self.routes),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        last_message = time.monotonic()
        flush_idle_s = self.settings.flush_idle_s
        if flush_idle_s is None and exit_when_idle_s is not None:
            flush_idle_s = min(0.2, exit_when_idle_s)
        # A poll waits its whole timeout unless it fills `consume_batch`: keep it short enough
        # for the idle check, long enough not to spin.
        poll_s = min(0.5, flush_idle_s / 2 if flush_idle_s else 0.5)
        try:
            while not self.stopping.is_set():
                timeout = max(0.0, min(self.batch.seconds_left(), poll_s))
                messages = consumer.consume(self.settings.consume_batch, timeout)
                if messages:
                    last_message = time.monotonic()
                    self._take(messages)
                idle = time.monotonic() - last_message
                drained = flush_idle_s is not None and idle >= flush_idle_s
                if self.batch.due() or (drained and not self.batch.empty):
                    self.flush()
                    if on_commit is not None:
                        on_commit(self)
                if exit_when_idle_s is not None and self.batch.empty and idle >= exit_when_idle_s:
                    break
            if not self.batch.empty:
                self.flush()
        except BaseException:
            self._broken = True  # never flush a batch after an error: restart re-reads it
            raise
        finally:
            self.batch.clear()
            consumer.close()
            self._consumer = None
        return self.stats

    def stop(self) -> None:
        """Ask the loop to flush and return (safe from signal handlers and other threads)."""
        self.stopping.set()

    def flush(self) -> dict[str, CommitResult]:
        """Commit the batch to every table it touches, then hint the offsets to Kafka."""
        started = time.monotonic()
        results: dict[str, CommitResult] = {}
        self.gate.refresh()  # erasures recorded since the last flush bar their rows from this one
        for name in self.commit_order:
            buffer = self.batch.tables.get(name)
            if buffer is None:
                continue
            writer = self.writers[name]
            rows = buffer.rows()
            if rows is None:
                rows = writer.schema.empty_table()
            rows = self._drop_erased(name, rows)
            results[name] = result = writer.append(rows, buffer.offsets)
            self.stats.rows[name] += result.rows
            self.telemetry.rows_committed.labels(name).inc(result.rows)
            if result.rows:
                self.telemetry.batch_rows.labels(name).observe(result.rows)
            self.telemetry.conflicts.labels(name).inc(result.conflicts)
            if result.version is not None:
                self.telemetry.commits.labels(name).inc()
        positions = self._hint_offsets()
        for (topic, partition), offset in positions.items():
            self.telemetry.committed_offset.labels(topic, str(partition)).set(offset)
        self._report_lag()
        self.stats.flushes += 1
        self.stats.last_commit_at = time.time()
        self.telemetry.flush_duration.observe(time.monotonic() - started)
        self.telemetry.last_commit.set(self.stats.last_commit_at)
        logger.info(
            "committed %d messages in %.2fs: %s",
            self.batch.messages,
            time.monotonic() - started,
            {name: r.rows for name, r in results.items()},
        )
        self.batch.clear()
        return results

    def _drop_erased(self, name: str, rows: pa.Table) -> pa.Table:
        """The rows no erasure in the ledger covers; the others are counted, never written
        (their offsets still commit: they are done with)."""
        barred = self.gate.barred(name, rows)
        count = 0 if barred is None else pc.sum(barred).as_py() or 0
        if not count:
            return rows
        self.stats.erased[name] += count
        self.telemetry.erased_rows.labels(name).inc(count)
        logger.info("%s: %d rows of erased users not written (erasure ledger)", name, count)
        return rows.filter(pc.invert(barred))

    def _take(self, messages: list[Any]) -> None:
        """Route one consumed chunk, drop offsets already in the lake, convert and buffer it.

        The hot path (input topics) touches each message once, in the converter; offsets are
        checked on the Arrow columns afterwards.
        """
        raw: list[Any] = []
        decoded: dict[str, list[Any]] = defaultdict(list)
        routes = self.routes
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_error(error)
                continue
            topic = message.topic()
            if routes[topic].conversion == "raw":
                raw.append(message)
            else:
                decoded[topic].append(message)
        taken = 0
        if raw:
            rows, last = self._drop_seen_rows(self.raw.convert(raw))
            if rows.num_rows:
                size = pc.sum(pc.binary_length(rows["value"])).as_py() or 0
                self.batch.add("raw_events", rows, last, size)
                counts = pc.value_counts(rows["kafka_topic"]).to_pylist()
                for item in counts:
                    self.telemetry.messages_in.labels(item["values"]).inc(item["counts"])
                taken += rows.num_rows
        for topic, group in decoded.items():
            group, last = self._drop_seen_messages(group)
            if not group:
                continue
            size = sum(len(message.value() or b"") for message in group)
            converted = self.decoded[topic].convert(group)
            self.batch.add(self.routes[topic].table.name, converted.rows, last, size)
            self.telemetry.messages_in.labels(topic).inc(len(group))
            for row in converted.dead_letters:
                self.telemetry.dead_letters.labels(row["reason"]).inc()
            if converted.dead_letters:
                failed = {(r["kafka_topic"], r["kafka_partition"]) for r in converted.dead_letters}
                self.batch.add(
                    DEAD_LETTERS.name,
                    self.dead_letters.to_arrow(converted.dead_letters),
                    {key: last[key] for key in failed},
                )
            taken += len(group)
        if not taken:
            return
        self.batch.count(taken)
        self.stats.messages += taken
        if self.stats.first_message_at is None:
            self.stats.first_message_at = time.time()

    def _drop_seen_rows(self, rows: pa.Table) -> tuple[pa.Table, dict[PartitionKey, int]]:
        """Rows past their partition's floor, and the last offset per partition; moves floors."""
        spans = rows.group_by(["kafka_topic", "kafka_partition"], use_threads=False).aggregate(
            [("kafka_offset", "min"), ("kafka_offset", "max")]
        )
        last: dict[PartitionKey, int] = {}
        seen = None
        for topic, partition, low, high in zip(
            *(spans[c].to_pylist() for c in spans.column_names), strict=True
        ):
            key = (topic, partition)
            floor = self.floors.get(key, -1)
            if low <= floor:
                mask = pc.and_(
                    pc.and_(
                        pc.equal(rows["kafka_topic"], topic),
                        pc.equal(rows["kafka_partition"], partition),
                    ),
                    pc.less_equal(rows["kafka_offset"], floor),
                )
                skipped = pc.sum(mask).as_py() or 0
                self.stats.skipped += skipped
                self.telemetry.skipped.labels(topic).inc(skipped)
                seen = mask if seen is None else pc.or_(seen, mask)
            if high > floor:
                self.floors[key] = last[key] = high
        if seen is not None:
            rows = rows.filter(pc.invert(seen))
        return rows, last

    def _drop_seen_messages(self, group: list[Any]) -> tuple[list[Any], dict[PartitionKey, int]]:
        """Messages past their partition's floor, and the last offset per partition."""
        fresh: list[Any] = []
        last: dict[PartitionKey, int] = {}
        floors = self.floors
        for message in group:
            key = (message.topic(), message.partition())
            offset = message.offset()
            if offset <= floors.get(key, -1):
                self.stats.skipped += 1
                self.telemetry.skipped.labels(key[0]).inc()
                continue
            floors[key] = last[key] = offset
            fresh.append(message)
        return fresh, last

    def _hint_offsets(self) -> dict[PartitionKey, int]:
        """Commit the flushed positions to the group (monitoring only; never read back)."""
        positions: dict[PartitionKey, int] = {}
        for buffer in self.batch.tables.values():
            for key, offset in buffer.offsets.items():
                positions[key] = max(positions.get(key, -1), offset)
        if not positions or self._consumer is None:
            return positions
        partitions = [TopicPartition(t, p, offset + 1) for (t, p), offset in positions.items()]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=True)
        except Exception as exc:  # a hint: losing it costs nothing
            logger.debug("offset hint not committed: %s", exc)
        return positions

    def _report_lag(self) -> None:
        """Consumer lag of every partition taken from, from the watermarks librdkafka caches
        with each fetch (no broker request)."""
        if self._consumer is None:
            return
        for (topic, partition), floor in list(self.floors.items()):
            try:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), cached=True
                )
            except Exception:  # not fetched yet: nothing to report
                continue
            if high >= 0:
                lag = max(0, high - floor - 1)
                self.telemetry.consumer_lag.labels(topic, str(partition)).set(lag)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        refreshed: set[str] = set()
        for tp in partitions:
            writer = self.writers[self.routes[tp.topic].table.name]
            fresh = writer.table.name not in refreshed
            refreshed.add(writer.table.name)
            last = writer.committed_offset(tp.topic, tp.partition, refresh=fresh)
            self.floors[(tp.topic, tp.partition)] = -1 if last is None else last
            if last is not None:
                tp.offset = last + 1
            elif self.settings.start_from == "earliest":
                tp.offset = OFFSET_BEGINNING
            else:
                tp.offset = OFFSET_END
        logger.info("assigned %d partitions", len(partitions))
        logger.debug(
            "assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions)
        )
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Flushing is safe even if the partitions already moved (the Delta transactions drop
        # offsets someone else committed) and saves the next owner from re-reading them.
        if not self._broken and not self.batch.empty:
            try:
                self.flush()
            except Exception:
                logger.exception("flush on revoke failed; the next owner re-reads the batch")
        self.batch.clear()
        for tp in partitions:
            self.floors.pop((tp.topic, tp.partition), None)
            with contextlib.suppress(KeyError):  # KeyError: never reported
                self.telemetry.consumer_lag.remove(tp.topic, str(tp.partition))
        consumer.unassign()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.warning("lost %d partitions; dropping the unflushed batch", len(partitions))
        self.batch.clear()
        self.floors.clear()

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise SinkError(f"fatal Kafka error: {error}")
        logger.warning("Kafka error: %s", error)
