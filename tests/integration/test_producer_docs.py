"""The agent-side examples of docs/producer.md run as written against the local stack."""

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.topics import INPUT_TOPICS

DOC = Path(__file__).resolve().parents[2] / "docs" / "producer.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    name = f"test-docs-{uuid.uuid4().hex[:8]}"
    specs = [spec.in_namespace(name) for spec in INPUT_TOPICS]
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, 1, config=s.kafka_config()) for s in specs]
    )
    for future in futures.values():
        future.result(timeout=30)
    yield name
    for future in admin.delete_topics([s.name for s in specs], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


def test_the_examples_run_as_written(
    namespace: str,
    bootstrap_servers: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 2
    monkeypatch.setenv("FEEDBACK_PRODUCER_TOPIC_NAMESPACE", namespace)
    monkeypatch.setenv("FEEDBACK_PRODUCER_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("FEEDBACK_PRODUCER_SPOOL_DIR", str(tmp_path))
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "__example__"})
    printed = capsys.readouterr().out
    assert "sent=3, delivered=3, failed=0, spooled=0" in printed
