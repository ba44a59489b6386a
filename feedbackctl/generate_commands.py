"""`feedbackctl generate`: realistic agent traffic into Kafka (through the SDK) or into a file."""

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from feedbackctl.timeparse import parse_time_ms
from plumbing.kafka_security import kafka_client_config
from plumbing.settings import env_name
from producers.client import FeedbackClient
from producers.drift import parse_quality_change
from producers.emitter import EmitReport, GeneratedEventLike, emit_to_file, emit_to_kafka
from producers.regimes import ENV_PREFIX_GENERATOR, GeneratorSettings, regime_config, regime_names
from producers.settings import ENV_PREFIX_PRODUCER, ProducerSettings
from producers.traffic import TrafficConfig, generate_traffic

__all__ = ["generate"]

console = Console()


def generate(
    sessions: int = typer.Option(1000, "--sessions", min=1, help="Agent sessions to generate."),
    rate: float = typer.Option(
        0.0, "--rate", min=0.0, help="Events per second of wall clock (0 = as fast as possible)."
    ),
    seed: int = typer.Option(42, "--seed", help="Same seed, same traffic."),
    regime: str | None = typer.Option(
        None,
        "--regime",
        help=f"Traffic regime: {', '.join(regime_names())} (feedback rate, rater noise, "
        "sarcasm, correction delay, share of good turns; "
        f"env {env_name(ENV_PREFIX_GENERATOR, 'regime')}).",
    ),
    bad_share: float = typer.Option(
        0.0,
        "--bad-share",
        min=0.0,
        max=1.0,
        help="Share of events followed by a bad record (garbage, unknown fingerprint...).",
    ),
    too_late_share: float = typer.Option(
        0.0, "--too-late-share", min=0.0, max=1.0, help="Share of feedback sent after the grace."
    ),
    quality_change: list[str] = typer.Option(
        [],
        "--quality-change",
        help="AGENT:VERSION@START=QUALITY: from START (epoch ms, or a share of the run such as "
        "50%) that version's true mean quality is QUALITY (repeatable; docs/monitoring.md).",
    ),
    start_time: str = typer.Option(
        None,
        "--start-time",
        help="Event time of the first session (ISO 8601 or epoch ms); default 2026-01-01T00:00Z, "
        "so a seed alone fixes the traffic.",
    ),
    output: str = typer.Option(
        "kafka", "--output", help="`kafka`, or a file path for JSON lines (see docs/producer.md)."
    ),
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        help="Write to `<topic>.<namespace>` "
        f"(env {env_name(ENV_PREFIX_PRODUCER, 'topic_namespace')}).",
    ),
    bootstrap_servers: str | None = typer.Option(
        None,
        "--bootstrap-servers",
        help=f"Kafka (env {env_name(ENV_PREFIX_PRODUCER, 'bootstrap_servers')}).",
    ),
    create_topics: bool = typer.Option(
        True, "--create-topics/--no-create-topics", help="Create missing input topics first."
    ),
) -> None:
    """Generate multi-turn sessions of several agents (tools, retries, feedback hours later,
    silent abandonment) in simulated event time; deterministic for a seed."""
    overrides: dict[str, Any] = {}
    if namespace is not None:
        overrides["topic_namespace"] = namespace
    if bootstrap_servers is not None:
        overrides["bootstrap_servers"] = bootstrap_servers
    settings = ProducerSettings(**overrides)
    regime_name = regime or GeneratorSettings().regime
    try:
        regime_config(regime_name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--regime") from exc
    try:
        changes = tuple(parse_quality_change(text) for text in quality_change)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--quality-change") from exc
    traffic = generate_traffic(
        regime_config(
            regime_name,
            sessions=sessions,
            seed=seed,
            bad_record_share=bad_share,
            too_late_share=too_late_share,
            start_time_ms=parse_time_ms(start_time) or TrafficConfig.start_time_ms,
            quality_changes=changes,
        )
    )
    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("events", total=None)

        def advance(emitted: int) -> None:
            progress.update(task, completed=emitted)

        if output == "kafka":
            report = _to_kafka(settings, traffic.events(), rate, advance, create_topics)
        else:
            report = emit_to_file(
                traffic.events(),
                Path(output),
                namespace=settings.topic_namespace or None,
                rate=rate,
                progress=advance,
                max_text_bytes=settings.max_text_bytes,
            )
    _print_report(report, output, traffic.truth.outcome_counts())


def _to_kafka(
    settings: ProducerSettings,
    events: Iterable[GeneratedEventLike],
    rate: float,
    advance: Callable[[int], None],
    create_topics: bool,
) -> EmitReport:
    with FeedbackClient(settings, registry=CollectorRegistry()) as client:
        if create_topics:
            from local_stack.topics import ensure_topics

            topics = client.topics
            ensure_topics(
                settings.bootstrap_servers, [topics.interactions, topics.feedback, topics.signals]
            )
        report = emit_to_kafka(
            events,
            client,
            kafka_client_config(settings.bootstrap_servers, settings.kafka_config),
            rate=rate,
            progress=advance,
        )
    stats = client.stats()
    console.print(
        f"SDK: sent {stats.sent:,}, delivered {stats.delivered:,}, failed {stats.failed:,}, "
        f"spooled {stats.spooled:,} (to {settings.spool_dir})"
    )
    if stats.spooled or report.raw_failed:
        console.print(
            f"[yellow]{stats.spooled:,} events spooled and {report.raw_failed:,} bad records "
            "not delivered; is Kafka up? (`feedbackctl stack status`)"
        )
    return report


def _print_report(report: EmitReport, output: str, outcomes: dict[Any, dict[str, int]]) -> None:
    table = Table("topic / bad record reason", "events")
    for name, count in sorted(report.good.items()):
        table.add_row(name, f"{count:,}")
    for reason, count in sorted(report.bad.items()):
        table.add_row(f"bad: {reason}", f"{count:,}")
    rate = report.total / report.elapsed_s if report.elapsed_s else 0.0
    table.add_row(
        "[bold]total", f"[bold]{report.total:,}[/bold] in {report.elapsed_s:.1f}s ({rate:,.0f}/s)"
    )
    console.print(table)
    truth = Table("agent", "version", "completed", "failed", "abandoned", "escalated")
    for (agent_id, version), counts in sorted(outcomes.items()):
        truth.add_row(
            agent_id,
            version,
            *(f"{counts.get(k, 0):,}" for k in ("completed", "failed", "abandoned", "escalated")),
        )
    console.print(truth)
    console.print(f"written to {'Kafka' if output == 'kafka' else output}")
