"""The Faust app of the stream processor: tables in Redis, the three inputs in one consumer group.

`build_app(settings)` returns the app and its runtime; `run_worker(settings)` runs one worker.
Several workers with the same settings (same namespace) form one consumer group and split the
input partitions; a dead worker's partitions move to the others with their state in Redis.
"""

import gc
import logging
import os
import tempfile
from pathlib import Path

import faust

from plumbing.kafka_security import kafka_security
from schemas.topics import INPUT_TOPICS, TopicSpec
from stream_processors import COMPILED_MODULES
from stream_processors.batch_transport import RecordBatchTransport
from stream_processors.kafka_credentials import faust_credentials
from stream_processors.redis_connection import faust_store_url
from stream_processors.redis_store import register
from stream_processors.runtime import ProcessorRuntime
from stream_processors.settings import ProcessorSettings
from stream_processors.tables import TABLES, PartitionedTable, changelog_topics

__all__ = ["build_app", "internal_topics", "run_worker"]

log = logging.getLogger(__name__)


def build_app(settings: ProcessorSettings) -> tuple[faust.App, ProcessorRuntime]:
    """A Faust app wired to a ProcessorRuntime (not started)."""
    register()
    data_dir = Path(tempfile.gettempdir()) / "feedback-processor" / settings.group_id
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.group_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        store=faust_store_url(settings.redis_url),  # a cluster's node list in ?nodes=
        datadir=str(data_dir),
        table_standby_replicas=0,  # the Redis data is shared: a standby would overwrite it
        topic_replication_factor=1,
        topic_partitions=INPUT_TOPICS[0].partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        stream_wait_empty=True,
        broker_max_poll_records=settings.batch_max_events,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.metrics_host,  # Faust binds every interface by default
        producer_linger=0.005,
        # FEEDBACK_KAFKA_*: the same protocol and credentials as every other Kafka client.
        broker_credentials=faust_credentials(kafka_security()),
    )
    # Before anything asks for the transport: fetched records reach the runtime in batches.
    transport = RecordBatchTransport(
        app.conf.broker_consumer, app, fetch_max_wait_ms=settings.fetch_max_wait_ms
    )
    app.transport = transport
    runtime = _wire(app, settings)
    transport.hand_records_to(runtime.on_batch)
    return app, runtime


def _wire(app: faust.App, settings: ProcessorSettings) -> ProcessorRuntime:
    store_options = {
        "prefix": settings.redis_prefix,
        "flush_interval": 0,  # the runtime flushes, after outputs are acknowledged
        "apply_changelog": False,  # Redis + input checkpoint are the truth (docs/processor.md)
        "window_ttl": settings.window_ttl_s,
        "max_outage_s": settings.max_outage_s,  # how long a rebalance waits for Redis
        "connection": settings.redis_client_options(),  # AUTH, TLS files (rediss://)
    }
    partitions = INPUT_TOPICS[0].partitions  # co-partitioned with the inputs

    def table(name: str, key_type: type | None) -> PartitionedTable:
        # bytes -> Faust's "raw" codec; anything else -> "json" (window keys are tuples).
        created = PartitionedTable(
            app,
            name=name,
            partitions=partitions,
            key_type=key_type,
            value_type=bytes,
            options=dict(store_options),
            changelog=settings.table_changelog,
        )
        app.tables.add(created)
        return created

    sessions_name, entries_name, progress_name, partials_name = TABLES
    sessions = table(sessions_name, bytes)
    entries = table(entries_name, bytes)
    progress = table(progress_name, bytes)
    partials_table = table(partials_name, None)
    partials_table.tumbling(settings.metrics_window_s, expires=None)
    runtime = ProcessorRuntime(app, settings, sessions, entries, progress, partials_table)

    # Subscribed for the consumer group; RecordBatchTransport hands its records to the runtime.
    inputs = app.topic(
        *sorted(runtime.input_names),
        key_serializer="raw",
        value_serializer="raw",
        partitions=runtime.partition_count,
        acks=False,  # the runtime commits its Redis checkpoints instead (see runtime.py)
    )
    app.topics.add(inputs)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: set, **_: object) -> None:
        await runtime.on_partitions_revoked(revoked)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: set, **_: object) -> None:
        await runtime.on_partitions_assigned(assigned)

    @app.timer(settings.tick_interval_s, on_leader=False)
    async def tick() -> None:
        if app.consumer.assignment():
            await runtime.on_tick()

    return runtime


def internal_topics(settings: ProcessorSettings) -> list[TopicSpec]:
    """The worker's own topics, to create (and wait for) before it starts: its tables'
    changelogs (see `stream_processors.tables.changelog_topics`) and Faust's assignor leader
    topic. Created here they get the cluster's replicas (`local_stack.replication`); Faust
    would create the leader topic with `topic_replication_factor`, one replica."""
    partitions = INPUT_TOPICS[0].partitions
    leader = TopicSpec(
        name=f"{settings.group_id}-__assignor-__leader",
        key="(none)",
        value_record="(Faust assignor leader election, no records)",
        partitions=1,
        retention_ms=7 * 24 * 3600 * 1000,
    )
    return [
        *changelog_topics(settings.group_id, partitions, settings.window_ttl_s * 1000),
        leader,
    ]


def run_worker(settings: ProcessorSettings, loglevel: str = "info") -> None:
    """Run one worker until it is stopped (SIGINT/SIGTERM)."""
    from faust.worker import Worker

    from plumbing.observability import start_metrics_server

    _use_uvloop()
    _tune_garbage_collector()
    start_metrics_server(settings.metrics_port, settings.metrics_host)
    app, _ = build_app(settings)
    log.info(
        "processor %s starting (pid %d); join logic: %s",
        settings.group_id,
        os.getpid(),
        "compiled (mypyc)" if COMPILED_MODULES else "pure Python",
    )
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()


def _tune_garbage_collector() -> None:
    """Collect young objects less often, and old ones rarely.

    A busy worker holds its partitions' sessions (hundreds of MB of small dicts, freed by
    reference counting, not by the collector) and every full collection walks all of them: with
    Python's default thresholds, garbage collection took ~28% of a worker's time over a backlog
    (docs/processor.md, Performance). The step timings log it as "gc": 0.57-0.66 s per ~95k
    backlog events with (20_000, 20, 50), 0.36-0.37 s with these.
    """
    gc.set_threshold(50_000, 20, 100)


def _use_uvloop() -> None:
    """uvloop as the worker's event loop (before any loop exists): Faust's per-event stream path
    runs on the loop, and uvloop measurably speeds it up (docs/processor.md, Performance).
    Falls back to asyncio's loop where uvloop is not installed (e.g. Windows)."""
    try:
        import mode.loop

        mode.loop.use("uvloop")
    except ImportError:
        log.warning("uvloop not available: using the default asyncio event loop")
