"""Entry point of `feedbackctl`; each concern adds its own sub-command module."""

import sys

import typer

from feedbackctl.curate_commands import curate_app
from feedbackctl.dashboard_commands import dashboard
from feedbackctl.demo.command import demo
from feedbackctl.generate_commands import generate
from feedbackctl.lake_commands import lake_app
from feedbackctl.monitor_commands import monitor_app
from feedbackctl.process_commands import process
from feedbackctl.replay_commands import backfill_command, replay_app
from feedbackctl.settings_classes import SETTINGS_CLASSES
from feedbackctl.sink_commands import run_sink
from feedbackctl.stack_commands import stack_app
from feedbackctl.topics_commands import topics_app
from feedbackctl.verify_commands import verify
from plumbing.environment import UnknownSettingError, check_environment

__all__ = ["app"]

app = typer.Typer(
    help="Agent feedback pipeline: events in, live quality metrics and training data out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def refuse_unknown_settings() -> None:
    """Before any command: every FEEDBACK_* variable must name a setting of some service."""
    assert SETTINGS_CLASSES  # imported for their registration: every valid name is known
    try:
        check_environment()
    except UnknownSettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(code=exc.exit_code) from None


app.command("demo")(demo)
app.add_typer(stack_app, name="stack")
app.command("generate")(generate)
app.command("process")(process)
app.command("sink")(run_sink)
app.add_typer(lake_app, name="lake")
app.add_typer(curate_app, name="curate")
app.add_typer(monitor_app, name="monitor")
app.add_typer(topics_app, name="topics")
app.command("dashboard")(dashboard)
app.add_typer(replay_app, name="replay")
app.command("backfill")(backfill_command)
app.command("verify")(verify)


if __name__ == "__main__":
    app()
