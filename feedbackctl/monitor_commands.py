"""`feedbackctl monitor run | follow | alerts`: feedback-quality checks over the lake, live
monitoring of the metrics topic, and their alerts."""

import datetime as dt
import logging
import signal
import time
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from curation import CurationError
from curation.monitoring import AlertPublisher, MonitorSettings, read_alerts, run_monitor
from curation.monitoring.follow import MetricsFollower
from curation.monitoring.monitor import MonitorReport
from curation.monitoring.settings import MONITOR_ENV_PREFIX
from plumbing.observability import ObservabilityError, start_metrics_server
from schemas.topics import topic_by_name

__all__ = ["monitor_app"]

monitor_app = typer.Typer(
    help="Feedback-quality monitoring: coverage, agreement, drift, spam, regressions.",
    no_args_is_help=True,
)
console = Console()


def _env(field: str) -> str:
    return f"env {MONITOR_ENV_PREFIX}{field.upper()}"


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _settings() -> MonitorSettings:
    try:
        return MonitorSettings()
    except ValidationError as exc:
        console.print(f"[red]invalid monitor setting:[/red] {exc}")
        raise typer.Exit(code=2) from exc


def _show_stats(report: MonitorReport) -> None:
    table = Table(
        "agent",
        "version",
        "turns",
        "coverage",
        "agreement",
        "positive rate",
        "PSI",
        title=f"Window {_time(report.window_start)} - {_time(report.window_end)} UTC "
        f"(Delta version {report.delta_version})",
    )

    def pct(value: Any) -> str:
        return "-" if value is None else f"{value:.1%}"

    for row in report.stats:
        table.add_row(
            row["agent_id"],
            row["agent_version"],
            str(row["turns"]),
            pct(row["coverage"]),
            pct(row.get("agreement")),
            pct(row.get("positive_rate")),
            "-" if row["psi"] is None else f"{row['psi']:.3f}",
        )
    console.print(table)


def _show_alerts(alerts: list[dict[str, Any]], title: str) -> None:
    if not alerts:
        console.print(f"[green]{title}: none[/green]")
        return
    table = Table("kind", "severity", "agent", "version", "window end", "message", title=title)
    for alert in alerts:
        colour = "red" if alert["severity"] == "critical" else "yellow"
        table.add_row(
            alert["kind"],
            f"[{colour}]{alert['severity']}[/{colour}]",
            alert["agent_id"] or "-",
            alert["agent_version"] or "-",
            _time(alert["window_end"]),
            alert["message"],
        )
    console.print(table)


@monitor_app.command("run")
def run(
    lake_uri: str | None = typer.Option(
        None, "--lake-uri", help=f"Lake root ({_env('lake_uri')})."
    ),
    prefix: str | None = typer.Option(
        None, "--prefix", help=f"Table prefix ({_env('lake_prefix')})."
    ),
    version: int | None = typer.Option(None, "--version", help="Delta version (default latest)."),
    window_s: int | None = typer.Option(
        None, "--window", help=f"Current window, s ({_env('window_s')})."
    ),
    reference_s: int | None = typer.Option(
        None, "--reference", help=f"Reference window before it, s ({_env('reference_s')})."
    ),
    until_ms: int | None = typer.Option(
        None,
        "--until",
        help="End of the current window, epoch ms (default: the newest turn minus "
        f"{_env('maturity_s')}, 1 h).",
    ),
    publish: bool = typer.Option(True, "--publish/--no-publish", help="Publish alerts to Kafka."),
    bootstrap_servers: str | None = typer.Option(
        None, "--bootstrap-servers", help=f"Kafka ({_env('bootstrap_servers')})."
    ),
    topic: str | None = typer.Option(
        None, "--topic", help=f"Alerts topic ({_env('alerts_topic')})."
    ),
    every_s: float = typer.Option(0, "--every", help="Repeat every N seconds (0: run once)."),
    runs: int = typer.Option(0, "--runs", help="With --every: stop after N passes (0: never)."),
) -> None:
    """Check the lake's feedback quality, print per-version statistics and alerts, publish them."""
    settings = _settings()
    rules = settings.rules(window_s=window_s, reference_s=reference_s)
    spec = topic_by_name(topic or settings.alerts_topic)
    publisher = (
        AlertPublisher(bootstrap_servers or settings.bootstrap_servers, spec) if publish else None
    )
    passes = 0
    while True:
        try:
            report = run_monitor(
                lake_uri or settings.lake_uri,
                rules,
                prefix=settings.lake_prefix if prefix is None else prefix,
                version=version,
                until_ms=until_ms,
            )
            _show_stats(report)
            _show_alerts(report.alerts, "Alerts")
            if publisher is not None and report.alerts:
                sent = publisher.publish(report.alerts)
                console.print(f"published {sent} alert(s) to {spec.name}")
        except CurationError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        passes += 1
        if every_s <= 0 or (runs and passes >= runs):
            return
        time.sleep(every_s)


@monitor_app.command("follow")
def follow(
    namespace: str | None = typer.Option(
        None, "--namespace", help=f"Topic namespace of the pipeline ({_env('namespace')})."
    ),
    bootstrap_servers: str | None = typer.Option(
        None, "--bootstrap-servers", help=f"Kafka ({_env('bootstrap_servers')})."
    ),
    completion_maturity_s: float | None = typer.Option(
        None,
        "--completion-maturity",
        help="Seconds before outcomes count: the processor's abandon_after_s + 60 "
        f"({_env('completion_maturity_s')}).",
    ),
    thumbs_maturity_s: float | None = typer.Option(
        None,
        "--thumbs-maturity",
        help=f"Seconds before thumbs count ({_env('thumbs_maturity_s')}).",
    ),
    corrections_maturity_s: float | None = typer.Option(
        None,
        "--corrections-maturity",
        help=f"Seconds before corrections count ({_env('corrections_maturity_s')}).",
    ),
    reference_s: float | None = typer.Option(
        None, "--reference", help=f"Reference span, s ({_env('live_reference_s')})."
    ),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help="Stop after this many seconds of wall clock (default: never)."
    ),
) -> None:
    """Follow the processor's metrics topic and publish alerts as metric windows mature.

    Runs until stopped (SIGTERM or Ctrl-C); on start it replays the metrics topic to rebuild
    its references and publishes only alerts not yet on the alerts topic.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings()
    if namespace is not None:
        settings = settings.model_copy(update={"namespace": namespace})
    rules = settings.live_rules(
        completion_maturity_s=completion_maturity_s,
        thumbs_maturity_s=thumbs_maturity_s,
        corrections_maturity_s=corrections_maturity_s,
        live_reference_s=reference_s,
    )
    metrics_topic, alerts_topic = settings.topics()
    bootstrap = bootstrap_servers or settings.bootstrap_servers
    follower = MetricsFollower(
        bootstrap, rules, metrics_topic, AlertPublisher(bootstrap, alerts_topic)
    )
    signal.signal(signal.SIGTERM, lambda *_: follower.stop())
    try:
        start_metrics_server(settings.metrics_port, settings.metrics_host, follower.registry)
    except ObservabilityError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(
        f"following {metrics_topic.name}, alerts to {alerts_topic.name} "
        f"(maturity: outcomes {rules.completion_maturity_s:.0f} s, thumbs "
        f"{rules.thumbs_maturity_s:.0f} s, corrections {rules.corrections_maturity_s:.0f} s)"
    )
    try:
        stats = follower.run(max_seconds)
    except KeyboardInterrupt:
        stats = follower.stats
    except CurationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    console.print(
        f"stopped: {stats.final_windows} final windows, {stats.verdicts} verdicts, "
        f"{stats.alerts_published} alert(s) published, {stats.undecodable} undecodable record(s)"
    )


@monitor_app.command("alerts")
def alerts(
    bootstrap_servers: str | None = typer.Option(
        None, "--bootstrap-servers", help=f"Kafka ({_env('bootstrap_servers')})."
    ),
    topic: str | None = typer.Option(
        None, "--topic", help=f"Alerts topic ({_env('alerts_topic')})."
    ),
    agent_id: str | None = typer.Option(None, "--agent", help="Only this agent_id."),
    last: int = typer.Option(50, "--last", help="Show the newest N distinct alerts."),
    timeout_s: float = typer.Option(10.0, "--timeout", help="Seconds to read the topic."),
) -> None:
    """Show the alerts on the alerts topic (re-published alerts shown once), newest last."""
    settings = _settings()
    spec = topic_by_name(topic or settings.alerts_topic)
    try:
        found = read_alerts(bootstrap_servers or settings.bootstrap_servers, spec, timeout_s)
    except CurationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    distinct = list({alert["alert_id"]: alert for alert in found}.values())
    if agent_id:
        distinct = [alert for alert in distinct if alert["agent_id"] == agent_id]
    distinct.sort(key=lambda a: (a["window_end"], a["kind"], a["alert_id"]))
    _show_alerts(distinct[-last:] if last else distinct, f"Alerts on {spec.name}")
