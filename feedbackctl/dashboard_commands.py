"""`feedbackctl dashboard`: the live quality dashboard and its JSON / event-stream API."""

from typing import Any

import typer

from dashboard.settings import DashboardSettings
from plumbing.logs import configure_logging, warn_deprecated

__all__ = ["dashboard"]


def dashboard(
    host: str | None = typer.Option(
        None, help="Interface to listen on. (env FEEDBACK_DASHBOARD_HOST, default 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None, help="HTTP port. (env FEEDBACK_DASHBOARD_PORT, default 8050)"
    ),
    bootstrap_servers: str | None = typer.Option(
        None, help="Kafka bootstrap servers. (env FEEDBACK_DASHBOARD_BOOTSTRAP_SERVERS)"
    ),
    namespace: str | None = typer.Option(
        None, help="Read topics `<name>.<namespace>`. (env FEEDBACK_DASHBOARD_NAMESPACE)"
    ),
    lookback_s: float | None = typer.Option(
        None, help="Event time shown, in seconds. (env FEEDBACK_DASHBOARD_LOOKBACK_S, default 3600)"
    ),
    log_json: bool | None = typer.Option(
        None,
        "--log-json/--log-text",
        hidden=True,
        help="Deprecated: feedbackctl --log-format json|text dashboard.",
    ),
) -> None:
    """Serve the live dashboard: per agent version volume, rates, rating, latency, dead letters.

    Open http://HOST:PORT/ in a browser; /api/metrics and /api/stream serve the same data.
    """
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "bootstrap_servers": bootstrap_servers,
        "namespace": namespace,
        "lookback_s": lookback_s,
        "log_json": log_json,
    }
    if log_json is not None:
        warn_deprecated("dashboard --log-json/--log-text", "feedbackctl --log-format json|text")
    settings = DashboardSettings(**{k: v for k, v in overrides.items() if v is not None})
    # The service's own FEEDBACK_DASHBOARD_LOG_* win; else the shared FEEDBACK_LOG_*.
    chosen = settings.model_fields_set
    configure_logging(
        settings.log_level if "log_level" in chosen else None,
        settings.log_json if "log_json" in chosen else None,
    )
    # Imported here so that `feedbackctl --help` does not load the web stack.
    from dashboard.server import run_dashboard

    run_dashboard(settings)
