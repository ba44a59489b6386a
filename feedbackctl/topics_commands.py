"""`feedbackctl topics create`: the registry's topics on any Kafka cluster."""

import time
from typing import Any

import typer
from confluent_kafka import KafkaException
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from rich.console import Console

from local_stack.exceptions import StackError
from local_stack.topics import ensure_topics, partition_count_problems
from plumbing.kafka_settings import KafkaConnectionFields
from plumbing.settings import ENV_PREFIX, ServiceSettings
from schemas.topics import TOPICS

__all__ = ["TopicsSettings", "topics_app"]

topics_app = typer.Typer(
    help="Create the registry's topics on a Kafka cluster.", no_args_is_help=True
)
console = Console()


class TopicsSettings(ServiceSettings, KafkaConnectionFields):
    """Where to create the topics (FEEDBACK_TOPICS_* environment variables)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}TOPICS_")

    replication_factor: int | None = Field(
        None,
        gt=0,
        description="Replicas per partition; unset: one per broker of the cluster, at most "
        "three (min.insync.replicas one less).",
    )
    namespace: str = ""
    wait_s: float = Field(60.0, ge=0, description="Retry this long while Kafka is unreachable.")


@topics_app.command("create")
def create(
    bootstrap_servers: str | None = typer.Option(
        None, help="Kafka bootstrap servers. (env FEEDBACK_TOPICS_BOOTSTRAP_SERVERS)"
    ),
    replication_factor: int | None = typer.Option(
        None,
        help="Replicas per partition. (env FEEDBACK_TOPICS_REPLICATION_FACTOR, default: one "
        "per broker, at most 3)",
    ),
    namespace: str | None = typer.Option(
        None, help="Create `<name>.<namespace>` topics. (env FEEDBACK_TOPICS_NAMESPACE)"
    ),
    wait_s: float | None = typer.Option(
        None, help="Retry while Kafka is unreachable. (env FEEDBACK_TOPICS_WAIT_S, default 60)"
    ),
) -> None:
    """Create every registered topic that is missing (partitions, retention from the registry)."""
    given: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "replication_factor": replication_factor,
        "namespace": namespace,
        "wait_s": wait_s,
    }
    settings = TopicsSettings(**{k: v for k, v in given.items() if v is not None})
    specs = [spec.in_namespace(settings.namespace or None) for spec in TOPICS]
    deadline = time.monotonic() + settings.wait_s
    while True:
        try:
            created = ensure_topics(
                settings.bootstrap_servers, specs, replication_factor=settings.replication_factor
            )
            break
        except (KafkaException, StackError) as exc:
            if time.monotonic() >= deadline:
                console.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(code=1) from exc
            console.print(f"waiting for Kafka at {settings.bootstrap_servers}: {exc}")
            time.sleep(2)
    problems = partition_count_problems(settings.bootstrap_servers, specs)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        if spec.name in problems:
            console.print(
                f"[red]{spec.name}: exists, but {problems[spec.name]}[/red]", soft_wrap=True
            )
        else:
            console.print(f"{spec.name}: {state} ({spec.partitions} partitions)")
    if problems:
        console.print(
            "[red]error:[/red] topics exist with another partition count than the registry's; "
            "the processor refuses to start on its input topics so (a session is joined on one "
            "partition number of the three). Recreate them with the registry's count.",
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
