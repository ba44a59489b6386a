"""`feedbackctl stack up | down | status`: the local Kafka and Redis."""

import typer
from rich.console import Console
from rich.table import Table

from local_stack import LocalStack, StackError, StackSettings
from local_stack.registry_node import RegistryNode

__all__ = ["stack_app"]

stack_app = typer.Typer(
    help="Start, stop and inspect the local Kafka (KRaft) and Redis.", no_args_is_help=True
)
console = Console()


def _fail(exc: StackError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


@stack_app.command("up")
def up(
    brokers: int = typer.Option(
        None,
        "--brokers",
        min=1,
        max=9,
        help="Kafka nodes (3: a replicated cluster, topics with 3 replicas and min ISR 2) "
        "[env: FEEDBACK_STACK_BROKERS; default 1].",
    ),
    redis_cluster: int = typer.Option(
        None,
        "--redis-cluster",
        min=0,
        max=9,
        help="Redis Cluster primaries, one replica each (0: one plain Redis) "
        "[env: FEEDBACK_STACK_REDIS_CLUSTER; default 0].",
    ),
    registry: bool = typer.Option(
        False,
        "--registry",
        help="Also start the Schema Registry (Apicurio, Confluent-compatible API) on "
        "FEEDBACK_REGISTRY_PORT (18081); built from Maven Central on first use.",
    ),
) -> None:
    """Start Kafka and Redis (data in FEEDBACK_STACK_STATE_DIR, default .stack/), create topics."""
    overrides: dict[str, int] = {}
    if brokers is not None:
        overrides["brokers"] = brokers
    if redis_cluster is not None:
        overrides["redis_cluster"] = redis_cluster
    try:
        settings = StackSettings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    try:
        stack = LocalStack(settings)
        stack.up(say=console.print)
        if registry:
            node = RegistryNode()
            console.print(f"schema registry at {node.url}")
            node.up()
            console.print(f"FEEDBACK_WIRE_REGISTRY_URL={node.url}")
    except StackError as exc:
        _fail(exc)
    show_status()
    if stack.clustered:
        console.print(f"FEEDBACK_*_BOOTSTRAP_SERVERS={settings.bootstrap_servers}")
        console.print(f"FEEDBACK_PROCESSOR_REDIS_URL={settings.redis_url}")


@stack_app.command("down")
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete the stack's data."),
) -> None:
    """Stop Kafka and Redis (every node of a cluster) cleanly; data is kept unless --purge."""
    LocalStack.recorded(StackSettings()).down(purge=purge, say=console.print)
    if RegistryNode().down():
        console.print("stopped the schema registry")


@stack_app.command("status")
def status() -> None:
    """Print each service, its address, pid and health; exit 1 when any is unhealthy."""
    if not show_status():
        raise typer.Exit(code=1)


def show_status() -> bool:
    """Print the status table; True when every service is healthy."""
    stack = LocalStack.recorded(StackSettings())
    table = Table("service", "address", "pid", "health", *(["role"] if stack.clustered else []))
    statuses = stack.status()
    for item in statuses:
        health = "[green]healthy[/green]" if item.healthy else "[red]down[/red]"
        role = [item.role] if stack.clustered else []
        table.add_row(item.name, item.address, str(item.pid or "-"), health, *role)
    console.print(table)
    return all(item.healthy for item in statuses)
