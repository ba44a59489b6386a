"""The agent-side examples of docs/producer.md and the README run as written on the local stack."""

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.topics import INPUT_TOPICS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "producer.md"
README = ROOT / "README.md"


def python_blocks(path: Path = DOC) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


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


def test_the_readme_example_runs_as_written(
    namespace: str,
    bootstrap_servers: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = python_blocks(README)
    assert len(blocks) == 1
    monkeypatch.setenv("FEEDBACK_PRODUCER_TOPIC_NAMESPACE", namespace)
    monkeypatch.setenv("FEEDBACK_PRODUCER_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("FEEDBACK_PRODUCER_SPOOL_DIR", str(tmp_path))
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "__example__"})
    assert "sent=3, delivered=3, failed=0, spooled=0" in capsys.readouterr().out
