"""Entry point of `feedbackctl`; each concern adds its own sub-command module.

The options before the sub-command say where and how every command runs, once for all:
`--namespace`, `--bootstrap-servers`, `--redis-url`, `--log-level`, `--log-format`. Each sets
its FEEDBACK_* variable for this process and the ones it starts; every settings class reads
them below its own variables (`plumbing.settings`).
"""

import atexit
import os
import sys
import threading

import typer

from feedbackctl.compare_commands import compare
from feedbackctl.curate_commands import curate_app
from feedbackctl.dashboard_commands import dashboard
from feedbackctl.demo.command import demo
from feedbackctl.demo.last_namespace import last_namespace_file, read_last_namespace
from feedbackctl.gateway_commands import gateway_app
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
from feedbackctl.watch_commands import watch
from plumbing.environment import UnknownSettingError, check_environment
from plumbing.logs import LOG_FORMATS, configure_logging
from plumbing.settings import set_fallback_namespace

__all__ = ["app", "run"]

app = typer.Typer(
    help="Agent feedback pipeline: events in, live quality metrics and training data out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# Commands that read a demo's outputs: without a namespace they read the last demo's.
_FOLLOW_LAST_DEMO = frozenset({"lake", "curate", "dashboard", "monitor", "verify"})


@app.callback()
def main(
    ctx: typer.Context,
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        help="Namespace of topics, tables and state for every command (env FEEDBACK_NAMESPACE; "
        "a command's own --namespace wins). lake, curate, monitor, verify and dashboard default "
        "to the last demo's.",
    ),
    bootstrap_servers: str | None = typer.Option(
        None,
        "--bootstrap-servers",
        help="Kafka for every service (env FEEDBACK_BOOTSTRAP_SERVERS; a service's own "
        "variable, e.g. FEEDBACK_SINK_BOOTSTRAP_SERVERS, wins).",
    ),
    redis_url: str | None = typer.Option(
        None,
        "--redis-url",
        help="Redis for every service (env FEEDBACK_REDIS_URL; FEEDBACK_PROCESSOR_REDIS_URL wins).",
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", help="DEBUG, INFO, WARNING or ERROR (env FEEDBACK_LOG_LEVEL)."
    ),
    log_format: str | None = typer.Option(
        None, "--log-format", help="text or json log lines (env FEEDBACK_LOG_FORMAT)."
    ),
) -> None:
    """Before any command: the shared options, then every FEEDBACK_* variable must name a
    setting of some service."""
    assert SETTINGS_CLASSES  # imported for their registration: every valid name is known
    if log_format is not None and log_format.lower() not in LOG_FORMATS:
        raise typer.BadParameter(f"one of {', '.join(LOG_FORMATS)}", param_hint="--log-format")
    for variable, value in (
        ("FEEDBACK_NAMESPACE", namespace),
        ("FEEDBACK_BOOTSTRAP_SERVERS", bootstrap_servers),
        ("FEEDBACK_REDIS_URL", redis_url),
        ("FEEDBACK_LOG_LEVEL", log_level and log_level.upper()),
        ("FEEDBACK_LOG_FORMAT", log_format and log_format.lower()),
    ):
        if value is not None:
            os.environ[variable] = value  # for this command and the processes it starts
    try:
        check_environment()
    except UnknownSettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(code=exc.exit_code) from None
    if os.environ.get("FEEDBACK_LOG_LEVEL") or os.environ.get("FEEDBACK_LOG_FORMAT"):
        configure_logging()  # every command; those that run a service set it up again
    if ctx.invoked_subcommand in _FOLLOW_LAST_DEMO:
        set_fallback_namespace(read_last_namespace(), _say_last_namespace)


def _say_last_namespace(namespace: str) -> None:
    print(
        f"namespace {namespace}: the last demo's ({last_namespace_file()}); "
        "--namespace chooses another",
        file=sys.stderr,
    )


app.command("demo")(demo)
app.add_typer(stack_app, name="stack")
app.command("generate")(generate)
app.command("process")(process)
app.command("sink")(run_sink)
app.add_typer(lake_app, name="lake")
curate_app.command("watch")(watch)
app.add_typer(curate_app, name="curate")
app.add_typer(monitor_app, name="monitor")
app.command("compare")(compare)
app.add_typer(topics_app, name="topics")
app.command("dashboard")(dashboard)
app.add_typer(gateway_app, name="gateway")
app.add_typer(replay_app, name="replay")
app.command("backfill")(backfill_command)
app.command("verify")(verify)


def run() -> None:
    """The `feedbackctl` command: `app`, then an exit that skips the native libraries' teardown.

    Arrow's and delta-rs's native thread pools can still hold a joinable thread when the
    interpreter tears the process down; `std::terminate` then aborts a command that has already
    done its work (exit 134 or -6; apache/arrow#34314 and #39862 are open upstream). It failed
    the README's `feedbackctl verify` in CI about once in 25 runs, and later `feedbackctl demo`,
    which reads the lake for its summary. Every command reaches Arrow somewhere (the lake, the
    sink's writes, the demo's summary), so none goes through that teardown: once the command has
    returned, the Python exit handlers run (the SDK's flush and logging's among them), the
    output is flushed, and `os._exit` ends the process with the command's code. A command that
    left a Python thread running exits through the interpreter, which waits for it.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    if _threads_left():
        sys.exit(code)  # the interpreter's own exit: waits for threads, runs every handler
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _threads_left() -> bool:
    """A Python thread the interpreter's exit would wait for."""
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def _exit_code(code: object) -> int:
    """`SystemExit.code` as a process exit code, the way the interpreter maps it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    run()
