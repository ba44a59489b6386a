"""`feedbackctl process`: run one stream processor worker (start several for more throughput)."""

import typer

from plumbing.logs import configure_logging, default_level, warn_deprecated
from plumbing.settings import env_name
from stream_processors.settings import PROCESSOR_ENV_PREFIX, ProcessorSettings

__all__ = ["process"]


def process(
    namespace: str = typer.Option(
        None,
        "--namespace",
        help="Replay namespace: topics `<name>.<namespace>`, own consumer group and Redis keys "
        f"[env: {env_name(PROCESSOR_ENV_PREFIX, 'namespace')}].",
    ),
    create_topics: bool = typer.Option(
        True,
        "--create-topics/--no-create-topics",
        help="Create missing topics of the namespace (the worker's own changelog topics are "
        "created either way).",
    ),
    loglevel: str | None = typer.Option(
        None, "--loglevel", hidden=True, help="Deprecated: feedbackctl --log-level LEVEL process."
    ),
) -> None:
    """Run one worker of the stream processor until interrupted.

    Several workers with the same settings (run this command several times, e.g. one per core)
    share the input partitions; every timeout and window size is a FEEDBACK_PROCESSOR_* variable.
    """
    overrides = {"namespace": namespace} if namespace is not None else {}
    settings = ProcessorSettings(**overrides)  # type: ignore[arg-type]
    if loglevel is not None:
        warn_deprecated("process --loglevel", "feedbackctl --log-level LEVEL process")
    loglevel = (loglevel or default_level()).lower()
    configure_logging(loglevel)
    from local_stack.topics import ensure_topics, partition_count_problems
    from schemas.topics import INPUT_TOPICS, TOPICS
    from stream_processors.app import internal_topics, run_worker

    ns = settings.namespace or None
    if create_topics:
        ensure_topics(settings.bootstrap_servers, [spec.in_namespace(ns) for spec in TOPICS])
    inputs = [spec.in_namespace(ns) for spec in INPUT_TOPICS]
    problems = partition_count_problems(settings.bootstrap_servers, inputs)
    if problems:
        typer.echo(
            "error: the input topics are not co-partitioned as the processor needs: "
            + "; ".join(problems.values())
            + ". A worker joins a session on one partition number of the three input topics "
            "(docs/producer.md, Partitioning); recreate them with the registry's count "
            "(`feedbackctl topics create` creates missing topics).",
            err=True,
        )
        raise typer.Exit(code=1)
    ensure_topics(settings.bootstrap_servers, internal_topics(settings))

    run_worker(settings, loglevel=loglevel)
