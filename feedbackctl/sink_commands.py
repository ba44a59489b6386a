"""`feedbackctl sink`: run the Delta Lake sink (a Kafka consumer group member)."""

import json
import logging
import signal
from types import FrameType
from typing import Any

import typer

from plumbing.logs import configure_logging, warn_deprecated
from plumbing.observability import start_metrics_server
from sinks.exceptions import DamagedTableError
from sinks.settings import SINK_ENV_PREFIX, SinkSettings
from sinks.sink import DeltaSink

__all__ = ["app", "run_sink"]


def _env(field: str) -> str:
    return f"{SINK_ENV_PREFIX}{field.upper()}"


def run_sink(
    bootstrap_servers: str | None = typer.Option(
        None, help=f"Kafka bootstrap servers (env {_env('bootstrap_servers')})"
    ),
    lake_uri: str | None = typer.Option(
        None, help=f"Lake root: a directory or s3://... (env {_env('lake_uri')})"
    ),
    namespace: str | None = typer.Option(
        None, help=f"Replay namespace of topics and tables (env {_env('namespace')})"
    ),
    group_id: str | None = typer.Option(None, help=f"Consumer group (env {_env('group_id')})"),
    sink_name: str | None = typer.Option(
        None, help=f"Name of the Delta application transactions (env {_env('sink_name')})"
    ),
    flush_rows: int | None = typer.Option(
        None, help=f"Flush after this many messages (env {_env('flush_rows')})"
    ),
    flush_bytes: int | None = typer.Option(
        None, help=f"Flush after this many value bytes (env {_env('flush_bytes')})"
    ),
    flush_latency_s: float | None = typer.Option(
        None,
        help=f"Flush at the latest this long after the first buffered message "
        f"(env {_env('flush_latency_s')})",
    ),
    storage_options: str | None = typer.Option(
        None, help=f"delta-rs storage options as JSON (env {_env('storage_options')})"
    ),
    create_topics: bool = typer.Option(
        True,
        "--create-topics/--no-create-topics",
        help="Create missing topics of the namespace first (as `process` does): a topic created "
        "after the sink subscribed is only seen at the next metadata refresh, minutes later.",
    ),
    exit_when_idle: float | None = typer.Option(
        None, help="Commit and exit after this many seconds without messages (replays, tests)."
    ),
    log_level: str | None = typer.Option(
        None, help="Log level (default: feedbackctl --log-level, env FEEDBACK_LOG_LEVEL)."
    ),
    json_logs: bool | None = typer.Option(
        None, "--json-logs/--text-logs", hidden=True, help="Deprecated: feedbackctl --log-format."
    ),
) -> None:
    """Consume the input, enriched, metrics and dead-letter topics into the lake's Delta tables."""
    if json_logs is not None:
        warn_deprecated("sink --json-logs", "feedbackctl --log-format json sink")
    configure_logging(log_level, json_logs)
    overrides: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "lake_uri": lake_uri,
        "namespace": namespace,
        "group_id": group_id,
        "sink_name": sink_name,
        "flush_rows": flush_rows,
        "flush_bytes": flush_bytes,
        "flush_latency_s": flush_latency_s,
        "storage_options": json.loads(storage_options) if storage_options else None,
    }
    settings = SinkSettings(**{k: v for k, v in overrides.items() if v is not None})
    if create_topics:
        from local_stack.topics import ensure_topics
        from schemas.topics import TOPICS

        namespace = settings.namespace or None
        ensure_topics(settings.bootstrap_servers, [spec.in_namespace(namespace) for spec in TOPICS])
    start_metrics_server(settings.metrics_port, settings.metrics_host)
    sink = DeltaSink(settings)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        sink.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        stats = sink.run(exit_when_idle_s=exit_when_idle)
    except DamagedTableError as exc:  # one line, not a delta-rs trace (that is at debug level)
        logging.getLogger("feedbackctl.sink").error("%s", exc)
        raise typer.Exit(code=exc.exit_code) from None
    typer.echo(
        f"sink stopped: {stats.messages} messages, {stats.flushes} commits, rows {dict(stats.rows)}"
    )


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(run_sink)
