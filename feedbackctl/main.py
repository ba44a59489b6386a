"""Entry point of `feedbackctl`; each concern adds its own sub-command module."""

import typer

from feedbackctl.replay_commands import backfill_command, replay_app
from feedbackctl.stack_commands import stack_app

__all__ = ["app"]

app = typer.Typer(
    help="Agent feedback pipeline: events in, live quality metrics and training data out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(replay_app, name="replay")
app.command("backfill")(backfill_command)


if __name__ == "__main__":
    app()
