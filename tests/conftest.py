"""Fixtures shared by every test folder: the local stack's addresses and unique topic names."""

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from local_stack import LocalStack, StackSettings
from schemas.topics import TopicSpec


@pytest.fixture(autouse=True)
def _no_last_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in process (`CliRunner`) ignore the developer's last demo: after `make
    demo`, `lake`, `curate`, `verify`... default to its namespace (`.stack/last-namespace`),
    and a test that gives none read the demo's tables instead of its own (`make demo` then
    `make test` failed so). The default itself is tested in subprocesses with a state
    directory of their own (tests/unit/feedbackctl/test_last_namespace.py)."""
    import feedbackctl.main

    monkeypatch.setattr(feedbackctl.main, "read_last_namespace", lambda: None)


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings()


@pytest.fixture(scope="session")
def local_stack(stack_settings: StackSettings) -> LocalStack:
    """The running local stack; started here when a developer runs pytest without it."""
    stack = LocalStack(stack_settings)
    if not all(service.healthy for service in stack.status()):
        stack.up(say=lambda _msg: None)
    return stack


@pytest.fixture(scope="session")
def bootstrap_servers(local_stack: LocalStack) -> str:
    return local_stack.settings.bootstrap_servers


@pytest.fixture(scope="session")
def redis_url(local_stack: LocalStack) -> str:
    return local_stack.settings.redis_url


@pytest.fixture()
def unique_topics(bootstrap_servers: str) -> Iterator[Callable[..., TopicSpec]]:
    """Factory of registry topics renamed uniquely for one test, deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    created: list[str] = []

    def make(spec: TopicSpec, partitions: int | None = None) -> TopicSpec:
        unique = spec.in_namespace(f"test-{uuid.uuid4().hex[:10]}")
        if partitions is not None:
            from dataclasses import replace

            unique = replace(unique, partitions=partitions)
        futures = admin.create_topics(
            [NewTopic(unique.name, unique.partitions, 1, config=unique.kafka_config())]
        )
        for future in futures.values():
            future.result(timeout=30)
        created.append(unique.name)
        return unique

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
