"""`feedbackctl demo`: stack up, generator -> processor workers -> sink (+ dashboard), live view,
then a summary read back from the Delta tables. Ctrl-C stops everything cleanly."""

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live

from feedbackctl.demo.lag import GroupLag
from feedbackctl.demo.last_namespace import write_last_namespace
from feedbackctl.demo.live_view import MetricsWatcher, PipelineProgress, progress_line, render
from feedbackctl.demo.summary import print_summary, summarize_lake
from feedbackctl.demo.supervisor import ChildService, Supervisor
from local_stack import LocalStack, StackError, StackSettings
from local_stack.topics import ensure_topics
from plumbing.settings import DEFAULT_LAKE_URI
from producers.traffic import TrafficConfig, generate_traffic
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, METRICS, TOPICS
from sinks.lake import Lake
from sinks.settings import SinkSettings
from stream_processors.settings import ProcessorSettings

__all__ = ["demo"]

console = Console()
# Mean events per generated session (turns, signals, feedback), measured on the default traffic.
_EVENTS_PER_SESSION = 5.1
# Without a terminal (a pipe, a log file, CI) the live view is one plain line this often.
PROGRESS_EVERY_S = 5.0


def demo(
    duration: float = typer.Option(60.0, "--duration", min=1, help="Seconds of generated traffic."),
    rate: float = typer.Option(1000.0, "--rate", min=1, help="Events per second to produce."),
    workers: int = typer.Option(2, "--workers", min=1, max=6, help="Processor workers."),
    seed: int = typer.Option(42, "--seed", help="Traffic seed (same seed, same traffic)."),
    bad_share: float = typer.Option(0.01, "--bad-share", min=0, max=1, help="Share of bad input."),
    namespace: str = typer.Option(
        None, "--namespace", help="Default: FEEDBACK_NAMESPACE, else demo-<UTC time>."
    ),
    dashboard: bool = typer.Option(True, "--dashboard/--no-dashboard", help="Serve the web page."),
    keep_dashboard: bool | None = typer.Option(
        None,
        "--keep-dashboard/--no-keep-dashboard",
        help="After the run, keep the dashboard serving it until Ctrl-C. Default: keep it when "
        "the demo runs in a terminal, not when its output goes to a pipe or a file.",
    ),
    dashboard_port: int = typer.Option(8050, "--dashboard-port", help="Port of the web page."),
    drain_timeout: float = typer.Option(240.0, "--drain-timeout", help="Max seconds to drain."),
    lake_uri: str = typer.Option(DEFAULT_LAKE_URI, "--lake", help="Where the Delta tables go."),
) -> None:
    """Run the whole pipeline on generated agent traffic and show live quality metrics."""
    stack = LocalStack(StackSettings())
    try:
        stack.up(say=console.print)
    except StackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    bootstrap = stack.settings.bootstrap_servers
    namespace = (
        namespace
        or os.environ.get("FEEDBACK_NAMESPACE")
        or datetime.now(UTC).strftime("demo-%Y%m%d-%H%M%S")
    )
    ensure_topics(bootstrap, [spec.in_namespace(namespace) for spec in TOPICS])
    recorded = write_last_namespace(namespace)
    console.print(
        f"namespace recorded in {recorded}: lake, curate, monitor, verify and dashboard "
        "default to it",
        soft_wrap=True,
    )
    sessions = max(20, int(rate * duration / _EVENTS_PER_SESSION))
    console.print(
        f"namespace [bold]{namespace}[/bold]: {sessions:,} sessions at {rate:,.0f} events/s"
    )
    # Simulated event time runs ahead of the wall clock (feedback hours after its turn): it
    # ends now, so that no event is from the future (docs/semantics.md, future_event_time).
    start_ms = int(time.time() * 1000)
    config = TrafficConfig(
        sessions=sessions, seed=seed, bad_record_share=bad_share, start_time_ms=start_ms
    )
    span_ms = max(e.event_time for e in generate_traffic(config).events()) - start_ms
    start_ms -= span_ms + 60_000
    traffic = generate_traffic(dataclasses.replace(config, start_time_ms=start_ms))
    events_sent = sum(1 for _ in traffic.events())  # the same traffic the generator will send

    env = {
        "FEEDBACK_PRODUCER_BOOTSTRAP_SERVERS": bootstrap,
        "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": bootstrap,
        "FEEDBACK_PROCESSOR_REDIS_URL": stack.settings.redis_url,
        "FEEDBACK_PROCESSOR_LAKE_URI": lake_uri,  # its erasure ledger: see docs/lake.md
        "FEEDBACK_SINK_BOOTSTRAP_SERVERS": bootstrap,
        "FEEDBACK_SINK_LAKE_URI": lake_uri,
        "FEEDBACK_DASHBOARD_BOOTSTRAP_SERVERS": bootstrap,
    }
    supervisor = Supervisor(Path(stack.settings.state_dir) / "demo" / namespace, env)
    url = f"http://127.0.0.1:{dashboard_port}/" if dashboard else None
    keep = dashboard and (keep_dashboard if keep_dashboard is not None else _interactive())
    web_page: ChildService | None = None
    failure: RuntimeError | None = None
    try:
        for index in range(workers):
            supervisor.start(f"processor-{index}", "process", "--namespace", namespace)
        supervisor.start("sink", "sink", "--namespace", namespace)
        if dashboard:
            web_page = supervisor.start(
                "dashboard", "dashboard", "--namespace", namespace, "--port", str(dashboard_port)
            )
        supervisor.start(
            "generator",
            "generate",
            "--sessions",
            str(sessions),
            "--rate",
            str(rate),
            "--seed",
            str(seed),
            "--bad-share",
            str(bad_share),
            "--namespace",
            namespace,
            "--start-time",
            str(start_ms),
        )
        _watch_until_drained(supervisor, bootstrap, namespace, url, duration + drain_timeout)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping the pipeline[/yellow]")
        keep = False
    except RuntimeError as exc:
        console.print(f"[red]error:[/red] {exc}")
        failure = exc
    finally:
        for child in reversed(supervisor.children):
            if not (keep and child is web_page):
                supervisor.stop(child)
    lake = Lake.from_settings(SinkSettings(lake_uri=lake_uri, namespace=namespace))
    print_summary(console, summarize_lake(lake), traffic.truth, events_sent, namespace)
    console.print(f"logs of every process: {supervisor.log_dir}")
    if failure is not None:
        raise typer.Exit(1)
    if web_page is not None and web_page.running:
        _serve_until_interrupted(supervisor, web_page, url)


def _every_window_final(snapshot: dict[str, Any]) -> bool:
    """Every metric window of the run has its final record (what `verify` compares)."""
    agents = snapshot.get("agents", [])
    return bool(agents) and all(
        a["summary"]["final_windows"] == a["summary"]["windows"] for a in agents
    )


def _interactive() -> bool:
    """True when a person watches: standard input and output are terminals."""
    return sys.stdin.isatty() and console.is_terminal


def _serve_until_interrupted(
    supervisor: Supervisor, web_page: ChildService, url: str | None
) -> None:
    """Keep the dashboard of the finished run until Ctrl-C (Kafka and Redis keep running)."""
    console.print(
        f"the dashboard keeps serving this run at {url} — Ctrl-C to stop it "
        "(Kafka and Redis keep running: `.venv/bin/feedbackctl stack down` stops them)"
    )
    try:
        while web_page.running:
            time.sleep(0.5)
        console.print(
            f"[red]the dashboard exited ({web_page.exit_code}): {web_page.log_file}[/red]"
        )
    except KeyboardInterrupt:
        console.print("stopping the dashboard")
    finally:
        supervisor.stop(web_page)


@contextlib.contextmanager
def _live_view() -> Iterator[Any]:
    """A live view that redraws in a terminal, or plain progress lines every few seconds."""
    if console.is_terminal:
        with Live(console=console, refresh_per_second=2) as live:
            yield lambda snapshot, progress: live.update(render(snapshot, progress, console.width))
        return
    last = [0.0]

    def every_few_seconds(snapshot: dict[str, Any], progress: PipelineProgress) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            console.print(progress_line(snapshot, progress), markup=False, soft_wrap=True)

    yield every_few_seconds


def _watch_until_drained(
    supervisor: Supervisor, bootstrap: str, namespace: str, url: str | None, timeout_s: float
) -> None:
    """Show the live view until the generator is done and every consumer has caught up.

    Drained = processor and sink lag both 0, every metric window seen final (its last window
    closes once the idle inputs' watermark passes it) and no new enriched record for 10 s
    (sessions that close on inactivity come out a little after the last input).
    """
    generator = next(c for c in supervisor.children if c.name == "generator")
    processor_group = ProcessorSettings(namespace=namespace).group_id
    sink_group = SinkSettings(namespace=namespace).consumer_group
    inputs = [spec.in_namespace(namespace).name for spec in INPUT_TOPICS]
    outputs = [spec.in_namespace(namespace).name for spec in (ENRICHED, METRICS, DEADLETTER)]
    started = time.monotonic()
    quiet_since: float | None = None
    last_out = -1
    # Every librdkafka client is closed on the thread that owns it before this returns: the
    # watcher's consumer on its thread (`__exit__` waits for it), the lag probe's clients here.
    with (
        GroupLag(bootstrap) as lag,
        MetricsWatcher(bootstrap, namespace) as watcher,
        _live_view() as show,
    ):
        while time.monotonic() - started < timeout_s:
            time.sleep(1.0)
            for child in supervisor.failed():
                raise RuntimeError(
                    f"{child.name} exited with {child.exit_code}; see {child.log_file}"
                )
            processor_lag = lag.lag(processor_group, inputs)
            sink_lag = lag.lag(sink_group, inputs + outputs)
            enriched_out = lag.total(outputs[:1])
            phase = "generating" if generator.running else "draining"
            snapshot = watcher.snapshot()
            show(
                snapshot,
                PipelineProgress(
                    phase,
                    time.monotonic() - started,
                    lag.total(inputs),
                    enriched_out,
                    processor_lag,
                    sink_lag,
                    url,
                ),
            )
            quiet = (
                not generator.running
                and processor_lag == 0
                and sink_lag == 0
                and enriched_out == last_out
                and _every_window_final(snapshot)
            )
            last_out = enriched_out
            quiet_since = (quiet_since or time.monotonic()) if quiet else None
            if quiet_since is not None and time.monotonic() - quiet_since > 10:
                return
        console.print("[yellow]drain timeout: stopping with work in flight[/yellow]")
