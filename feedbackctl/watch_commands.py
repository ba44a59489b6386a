"""`feedbackctl curate watch`: continuous curation, DatasetReady records and webhooks."""

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from curation.dataset_ready import dataset_key
from curation.record_publisher import RecordPublisher
from curation.settings import CurationSettings
from curation.watch import CurationWatch, RecordSink, records_as_json
from curation.watch_settings import WATCH_ENV_PREFIX, WatchSettings
from curation.webhook import WebhookSender
from plumbing.observability import start_metrics_server
from schemas.topics import DATASETS

__all__ = ["watch"]

console = Console(stderr=True)


def _env(field: str) -> str:
    return f"env {WATCH_ENV_PREFIX}{field.upper()}"


def watch(
    lake_uri: str | None = typer.Option(
        None, "--lake-uri", help=f"Lake root ({_env('lake_uri')})."
    ),
    prefix: str | None = typer.Option(
        None, "--prefix", help=f"Namespace prefix of the tables ({_env('lake_prefix')})."
    ),
    output_root: Path | None = typer.Option(
        None, "--output-root", help=f"Where dataset versions go ({_env('output_root')})."
    ),
    kind: str | None = typer.Option(None, "--kind", help=f"sft or preferences ({_env('kind')})."),
    every_examples: int | None = typer.Option(
        None,
        "--every-examples",
        help=f"New rows of an agent that trigger ({_env('every_examples')}).",
    ),
    every_seconds: float | None = typer.Option(
        None,
        "--every-seconds",
        help=f"Seconds after which new rows trigger ({_env('every_seconds')}).",
    ),
    agent: list[str] | None = typer.Option(
        None, "--agent", help=f"Only these agent_ids (repeatable; {_env('agents')})."
    ),
    poll_seconds: float | None = typer.Option(
        None, "--poll-seconds", help=f"Lake check interval ({_env('poll_seconds')})."
    ),
    webhook_url: str | None = typer.Option(
        None,
        "--webhook-url",
        help=f"Also POST each record here ({_env('webhook_url')}; "
        f"the secret: {_env('webhook_secret')}).",
    ),
    once: bool = typer.Option(False, "--once", help="One check, then exit (cron, tests)."),
) -> None:
    """Build a dataset version whenever an agent has enough new rows (or time passed), and
    publish a DatasetReady record to agent.datasets.v1 (and the webhook)."""
    overrides: dict[str, Any] = {
        "lake_uri": lake_uri,
        "lake_prefix": prefix,
        "output_root": None if output_root is None else str(output_root),
        "kind": kind,
        "every_examples": every_examples,
        "every_seconds": every_seconds,
        "agents": agent or None,
        "poll_seconds": poll_seconds,
        "webhook_url": webhook_url,
    }
    try:
        settings = WatchSettings(**{k: v for k, v in overrides.items() if v is not None})
        options = CurationSettings().options()
    except ValidationError as exc:
        console.print(f"[red]invalid watch setting:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    topic = DATASETS.in_namespace(settings.topic_namespace or None)
    sinks: list[RecordSink] = [RecordPublisher(settings.bootstrap_servers, topic, dataset_key)]
    if settings.webhook_url and settings.webhook_secret is not None:
        sinks.append(
            WebhookSender(
                settings.webhook_url,
                settings.webhook_secret.get_secret_value(),
                attempts=settings.webhook_attempts,
                backoff_s=settings.webhook_backoff_s,
            )
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    service = CurationWatch(settings, options, sinks)
    if once:
        records = service.poll_once()
        if records:
            print(records_as_json(records))
        return
    start_metrics_server(settings.metrics_port, settings.metrics_host)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console.print(
        f"watching {settings.lake_uri} ({settings.lake_prefix or 'no prefix'}) every "
        f"{settings.poll_seconds}s; {settings.kind} datasets to {settings.output_root}, "
        f"records to {topic.name}"
    )
    service.run(stop)
