"""Fixtures of the e2e suite: a private Kafka + Redis for the reliability scenarios.

The scenarios stop and restart Kafka and Redis, so they never use the shared stack that the
`bootstrap_servers` / `redis_url` fixtures of tests/conftest.py point at (the dashboard test
still does). One private stack serves the whole session; each scenario has its own namespace.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pipeline_harness import Pipeline, PrivateStack, start_private_stack


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """FEEDBACK_E2E_KEEP_STACK_DATA=1 keeps the broker's and Redis's data for inspection (e.g.
    `kafka-dump-log` of a partition that lost an event); the processes are stopped anyway."""
    stack = start_private_stack(tmp_path_factory.mktemp("private-stack"))
    try:
        yield stack
    finally:
        stack.down(purge=os.environ.get("FEEDBACK_E2E_KEEP_STACK_DATA") != "1")


@pytest.fixture()
def pipeline(private_stack: PrivateStack, tmp_path: Path) -> Iterator[Pipeline]:
    """A fresh namespace on the private stack; every process it started is stopped afterwards."""
    pipeline = Pipeline(private_stack, tmp_path)
    try:
        yield pipeline
    finally:
        pipeline.stop_all()
