"""`feedbackctl monitor run | follow | alerts`: feedback-quality checks over the lake, live
monitoring of the metrics topic, and their alerts."""

import datetime as dt
import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _option(flag: str, field: str, what: str) -> Any:
    """A typer option that falls back to the FEEDBACK_MONITOR_* setting `field` (None: keep)."""
    return typer.Option(None, flag, help=f"{what} ({_env(field)}).")


def _bootstrap_option() -> Any:
    return _option("--bootstrap-servers", "bootstrap_servers", "Kafka")


def _alerts_topic_option() -> Any:
    return _option("--topic", "alerts_topic", "Alerts topic")


@contextmanager
def _reported(error: type[Exception] = CurationError, code: int = 1) -> Iterator[None]:
    """Print a failure of the command's work as one red line and exit `code` (no traceback)."""
    try:
        yield
    except error as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=code) from exc


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
    lake_uri: str | None = _option("--lake-uri", "lake_uri", "Lake root"),
    prefix: str | None = _option("--prefix", "lake_prefix", "Table prefix"),
    version: int | None = typer.Option(None, "--version", help="Delta version (default latest)."),
    window_s: int | None = _option("--window", "window_s", "Current window, s"),
    reference_s: int | None = _option("--reference", "reference_s", "Reference window, s"),
    until_ms: int | None = typer.Option(
        None,
        "--until",
        help="End of the current window, epoch ms (default: the newest turn minus "
        f"{_env('maturity_s')}, 1 h).",
    ),
    publish: bool = typer.Option(
        True, "--publish/--no-publish", help="Publish the alerts to the alerts topic."
    ),
    bootstrap_servers: str | None = _bootstrap_option(),
    topic: str | None = _alerts_topic_option(),
    every_s: float = typer.Option(0, "--every", help="Repeat every N seconds (0: run once)."),
    runs: int = typer.Option(0, "--runs", help="With --every: stop after N passes (0: never)."),
) -> None:
    """Check the lake's feedback quality, print per-version statistics and alerts, publish them."""
    settings = _settings()
    rules = settings.rules(window_s=window_s, reference_s=reference_s)
    spec = topic_by_name(topic or settings.alerts_topic)
    # Connected on the first alerts to publish: a lake that cannot be read is reported first,
    # not after the producer's connection errors.
    publisher: AlertPublisher | None = None
    passes = 0
    while True:
        with _reported():
            report = run_monitor(
                lake_uri or settings.lake_uri,
                rules,
                prefix=settings.lake_prefix if prefix is None else prefix,
                version=version,
                until_ms=until_ms,
            )
            _show_stats(report)
            _show_alerts(report.alerts, "Alerts")
            if not publish:
                if report.alerts:
                    console.print(f"{len(report.alerts)} alert(s) not published (--no-publish)")
            else:
                sent = 0
                if report.alerts:
                    if publisher is None:
                        servers = bootstrap_servers or settings.bootstrap_servers
                        publisher = AlertPublisher(servers, spec)
                    sent = publisher.publish(report.alerts)
                console.print(f"published {sent} alert(s) to {spec.name}")
        passes += 1
        if every_s <= 0 or (runs and passes >= runs):
            return
        time.sleep(every_s)


@monitor_app.command("follow")
def follow(
    namespace: str | None = _option("--namespace", "namespace", "Topic namespace of the pipeline"),
    bootstrap_servers: str | None = _bootstrap_option(),
    completion_maturity_s: float | None = typer.Option(
        None,
        "--completion-maturity",
        help="Seconds before outcomes count: the processor's abandon_after_s + 60 "
        f"({_env('completion_maturity_s')}).",
    ),
    thumbs_maturity_s: float | None = _option(
        "--thumbs-maturity", "thumbs_maturity_s", "Seconds before thumbs and ratings count"
    ),
    corrections_maturity_s: float | None = _option(
        "--corrections-maturity", "corrections_maturity_s", "Seconds before corrections count"
    ),
    reference_s: float | None = _option("--reference", "live_reference_s", "Reference span, s"),
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
    with _reported(ObservabilityError, code=2):
        start_metrics_server(settings.metrics_port, settings.metrics_host, follower.registry)
    console.print(
        f"following {metrics_topic.name}, alerts to {alerts_topic.name} "
        f"(maturity: outcomes {rules.completion_maturity_s:.0f} s, thumbs "
        f"{rules.thumbs_maturity_s:.0f} s, corrections {rules.corrections_maturity_s:.0f} s)"
    )
    with _reported():
        try:
            stats = follower.run(max_seconds)
        except KeyboardInterrupt:
            stats = follower.stats
    console.print(
        f"stopped: {stats.final_windows} final windows, {stats.verdicts} verdicts, "
        f"{stats.alerts_published} alert(s) published, {stats.undecodable} undecodable record(s)"
    )


@monitor_app.command("alerts")
def alerts(
    bootstrap_servers: str | None = _bootstrap_option(),
    topic: str | None = _alerts_topic_option(),
    agent_id: str | None = typer.Option(None, "--agent", help="Only this agent_id."),
    last: int = typer.Option(50, "--last", help="Show the newest N distinct alerts."),
    timeout_s: float = typer.Option(10.0, "--timeout", help="Seconds to read the topic."),
) -> None:
    """Show the alerts on the alerts topic (re-published alerts shown once), newest last."""
    settings = _settings()
    spec = topic_by_name(topic or settings.alerts_topic)
    with _reported():
        found = read_alerts(bootstrap_servers or settings.bootstrap_servers, spec, timeout_s)
    distinct = list({alert["alert_id"]: alert for alert in found}.values())
    if agent_id:
        distinct = [alert for alert in distinct if alert["agent_id"] == agent_id]
    distinct.sort(key=lambda a: (a["window_end"], a["kind"], a["alert_id"]))
    _show_alerts(distinct[-last:] if last else distinct, f"Alerts on {spec.name}")
