"""`feedbackctl stack up | down | status`: the local Kafka and Redis."""

import typer
from rich.console import Console
from rich.table import Table

from local_stack import LocalStack, StackError, StackSettings

__all__ = ["stack_app"]

stack_app = typer.Typer(
    help="Start, stop and inspect the local Kafka (KRaft) and Redis.", no_args_is_help=True
)
console = Console()


def _fail(exc: StackError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


@stack_app.command("up")
def up() -> None:
    """Start Kafka and Redis (data in FEEDBACK_STACK_STATE_DIR, default .stack/), create topics."""
    try:
        LocalStack(StackSettings()).up(say=console.print)
    except StackError as exc:
        _fail(exc)
    show_status()


@stack_app.command("down")
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete the stack's data."),
) -> None:
    """Stop Kafka and Redis cleanly; data is kept unless --purge."""
    LocalStack(StackSettings()).down(purge=purge, say=console.print)


@stack_app.command("status")
def status() -> None:
    """Print each service, its address, pid and health; exit 1 when any is unhealthy."""
    if not show_status():
        raise typer.Exit(code=1)


def show_status() -> bool:
    """Print the status table; True when every service is healthy."""
    table = Table("service", "address", "pid", "health")
    statuses = LocalStack(StackSettings()).status()
    for item in statuses:
        health = "[green]healthy[/green]" if item.healthy else "[red]down[/red]"
        table.add_row(item.name, item.address, str(item.pid or "-"), health)
    console.print(table)
    return all(item.healthy for item in statuses)
