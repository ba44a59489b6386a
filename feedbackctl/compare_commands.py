"""`feedbackctl compare`: is an agent's candidate version better than its baseline?"""

import json
import math
import time

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from curation.exceptions import CurationError
from curation.impact import MetricImpact, ReleaseComparison, compare_versions
from curation.impact.lake import read_sessions
from curation.impact.record import impact_key, release_impact_record
from curation.impact.settings import COMPARE_ENV_PREFIX, CompareSettings
from curation.record_publisher import RecordPublisher
from feedbackctl.timeparse import parse_time_ms
from schemas.topics import RELEASE_IMPACT

__all__ = ["compare"]

console = Console()


def _env(field: str) -> str:
    return f"env {COMPARE_ENV_PREFIX}{field.upper()}"


def compare(
    agent: str = typer.Option(..., "--agent", help="agent_id to compare."),
    baseline: str = typer.Option(..., "--baseline", help="The version compared against."),
    candidate: str = typer.Option(..., "--candidate", help="The version judged."),
    lake_uri: str | None = typer.Option(
        None, "--lake-uri", help=f"Lake root ({_env('lake_uri')})."
    ),
    prefix: str | None = typer.Option(
        None, "--prefix", help=f"Namespace prefix ({_env('lake_prefix')})."
    ),
    lake_version: int | None = typer.Option(
        None, "--lake-version", help="enriched_interactions Delta version (default: latest)."
    ),
    since: str | None = typer.Option(None, "--since", help="Sessions started at or after."),
    until: str | None = typer.Option(None, "--until", help="Sessions started before."),
    confidence: float | None = typer.Option(
        None, "--confidence", help=f"Interval level ({_env('confidence')}, default 0.95)."
    ),
    power: float | None = typer.Option(
        None, "--power", help=f"Power the sample is planned for ({_env('power')}, default 0.8)."
    ),
    primary: str | None = typer.Option(
        None, "--primary", help=f"Metric of the verdict ({_env('primary_metric')})."
    ),
    publish: bool = typer.Option(
        False,
        "--publish/--no-publish",
        help="Publish a ReleaseImpact record once a verdict is reached "
        f"(to {RELEASE_IMPACT.name}; {_env('bootstrap_servers')}).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the ReleaseImpact record as JSON."),
) -> None:
    """Difference per metric (candidate - baseline) over the sessions both versions served in the
    same time span, with cluster-robust intervals (the session is the unit), and a verdict:
    better, worse, no difference or not yet known (with the sessions still needed)."""
    try:
        settings = CompareSettings()
    except ValidationError as exc:
        console.print(f"[red]invalid compare setting:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    try:
        sessions, version = read_sessions(
            lake_uri or settings.lake_uri,
            agent,
            (baseline, candidate),
            prefix=settings.lake_prefix if prefix is None else prefix,
            lake_version=lake_version,
            since_ms=parse_time_ms(since),
            until_ms=parse_time_ms(until),
        )
        result = compare_versions(
            sessions,
            agent,
            baseline,
            candidate,
            confidence=confidence or settings.confidence,
            power=power or settings.power,
            primary=primary or settings.primary_metric,
        )
    except (CurationError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    record = release_impact_record(result, int(time.time() * 1000))
    if as_json:
        print(json.dumps(record, indent=2))
    else:
        _show(result, version)
    if publish and result.verdict != "not yet known":
        topic = RELEASE_IMPACT.in_namespace(settings.topic_namespace or None)
        try:
            RecordPublisher(settings.bootstrap_servers, topic, impact_key).publish([record])
        except CurationError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        console.print(f"ReleaseImpact {record['impact_id']} published to {topic.name}")


def _rate(value: float, metric: str) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.1%}" if metric.endswith("_rate") else f"{value:,.4g}"


def _difference(m: MetricImpact) -> str:
    if math.isnan(m.difference):
        return "-"
    scale, unit = (100.0, " pts") if m.metric.endswith("_rate") else (1.0, "")
    text = f"{m.difference * scale:+,.4g}{unit}"
    if not math.isnan(m.ci_low):
        text += f" [{m.ci_low * scale:+,.4g}, {m.ci_high * scale:+,.4g}]"
    return text


def _show(result: ReleaseComparison, version: int) -> None:
    level = f"{result.confidence:.0%}"
    table = Table(
        "metric",
        result.baseline,
        result.candidate,
        f"difference [{level} CI]",
        "p",
        "sessions",
        "needed",
        "verdict",
        title=f"{result.agent_id}: {result.candidate} vs {result.baseline} "
        f"(enriched_interactions v{version}, session as the unit)",
    )
    for m in result.metrics:
        table.add_row(
            m.metric,
            _rate(m.baseline_mean, m.metric),
            _rate(m.candidate_mean, m.metric),
            _difference(m),
            "-" if math.isnan(m.p_value) else f"{m.p_value:.3g}",
            f"{m.baseline_sessions:,} / {m.candidate_sessions:,}",
            f"{m.sessions_needed:,}",
            m.verdict,
        )
    console.print(table)
    verdict = result.verdict
    line = f"verdict ({result.primary}): [bold]{verdict}[/bold]"
    if verdict == "not yet known":
        line += f", {result.sessions_needed:,} sessions per version needed"
    if result.regressions:
        line += f"; worse on {', '.join(result.regressions)}"
    console.print(line)
