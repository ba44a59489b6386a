"""`feedbackctl gateway`: the HTTP / OTLP gateway, and `gateway keys` to manage its API keys."""

from pathlib import Path
from typing import Any

import typer

from gateway.settings import GatewaySettings
from plumbing.logs import configure_logging

__all__ = ["gateway_app"]

gateway_app = typer.Typer(
    help="HTTP gateway (POST /v1/events, OTLP /v1/traces) and its API keys.",
    invoke_without_command=True,
    no_args_is_help=False,
)
keys_app = typer.Typer(help="API keys of the gateway (stored hashed in the key file).")
gateway_app.add_typer(keys_app, name="keys")

_KEYS_FILE = typer.Option(
    None, help="API key file. (env FEEDBACK_GATEWAY_KEYS_FILE, default under ~/.local/state)"
)


@gateway_app.callback()
def gateway(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, help="Interface to listen on. (env FEEDBACK_GATEWAY_HOST, default 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None, help="HTTP port. (env FEEDBACK_GATEWAY_PORT, default 8070)"
    ),
    bootstrap_servers: str | None = typer.Option(
        None, help="Kafka bootstrap servers. (env FEEDBACK_GATEWAY_BOOTSTRAP_SERVERS)"
    ),
    namespace: str | None = typer.Option(
        None, help="Write topics `<name>.<namespace>`. (env FEEDBACK_GATEWAY_TOPIC_NAMESPACE)"
    ),
    keys_file: Path | None = _KEYS_FILE,
    spool_dir: Path | None = typer.Option(
        None, help="Spool directory. (env FEEDBACK_GATEWAY_SPOOL_DIR)"
    ),
) -> None:
    """Serve the gateway (without a subcommand): agents POST events as JSON, or export OTLP."""
    if ctx.invoked_subcommand is not None:
        return
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "bootstrap_servers": bootstrap_servers,
        "topic_namespace": namespace,
        "keys_file": keys_file,
        "spool_dir": spool_dir,
    }
    settings = GatewaySettings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, json_format=settings.log_json)
    # Imported here so that `feedbackctl --help` does not load the web stack.
    from gateway.server import run_gateway

    run_gateway(settings)


def _key_file(keys_file: Path | None) -> Any:
    from gateway.keys import KeyFile

    return KeyFile(keys_file or GatewaySettings().keys_file)


@keys_app.command("add")
def keys_add(
    agent: str = typer.Option(..., help="The agent this key speaks for (its agent_id)."),
    rate: float | None = typer.Option(
        None, help="Events per second for this key (default FEEDBACK_GATEWAY_RATE_LIMIT_...)."
    ),
    burst: int | None = typer.Option(None, help="Burst for this key, events."),
    label: str = typer.Option("", help="A note to tell keys apart (who holds it)."),
    keys_file: Path | None = _KEYS_FILE,
) -> None:
    """Create an API key for an agent; the key is printed once and only its hash is stored."""
    entry, key = _key_file(keys_file).add(agent, rate_per_s=rate, burst=burst, label=label)
    typer.echo(key)
    typer.echo(f"key id {entry.key_id} for agent {entry.agent_id} (store the key now)", err=True)


@keys_app.command("list")
def keys_list(keys_file: Path | None = _KEYS_FILE) -> None:
    """The keys: id, agent, rate, label (never the secrets)."""
    for key in _key_file(keys_file).list():
        rate = "default" if key.rate_per_s is None else f"{key.rate_per_s:g}/s"
        typer.echo(f"{key.key_id}\t{key.agent_id}\t{rate}\t{key.label}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, keys_file: Path | None = _KEYS_FILE) -> None:
    """Remove a key; the gateway refuses it within a second."""
    if not _key_file(keys_file).revoke(key_id):
        typer.echo(f"no key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
