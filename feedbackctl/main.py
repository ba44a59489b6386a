"""Entry point of `feedbackctl`; each concern adds its own sub-command module."""

import typer

from feedbackctl.stack_commands import stack_app

__all__ = ["app"]

app = typer.Typer(
    help="Agent feedback pipeline: events in, live quality metrics and training data out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")


if __name__ == "__main__":
    app()
