"""The producer SDK against the real broker: what is sent is what is read back, exactly once."""

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from producers import AsyncFeedbackClient, FeedbackClient, ProducerSettings, ProducerTopics
from producers.spool import spool_files
from schemas.exceptions import InvalidRecordError
from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec

START_MS = 1_767_225_600_000
MISSING = object()


@pytest.fixture()
def topics(unique_topics: Callable[..., TopicSpec]) -> ProducerTopics:
    return ProducerTopics(
        unique_topics(INTERACTIONS, partitions=3),
        unique_topics(FEEDBACK, partitions=3),
        unique_topics(SIGNALS, partitions=3),
    )


def settings(tmp_path: Path, **overrides: Any) -> ProducerSettings:
    base: dict[str, Any] = {
        "spool_dir": tmp_path / "spool",
        "linger_ms": 5,
        "close_timeout_s": 20.0,
        "replay_spool_on_start": False,
    }
    return ProducerSettings(**{**base, **overrides})


def read_back(
    bootstrap_servers: str, topic: TopicSpec, expected: int, timeout_s: float = 30.0
) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every record of a topic from the beginning (stops at the end offsets, bounded in time)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"test-producer-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        ends = {}
        for partition in range(topic.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic.name, partition), timeout=10
            )
            ends[partition] = high
        consumer.assign([TopicPartition(topic.name, p, 0) for p in ends])
        serializer = serializer_for(topic)
        records: list[tuple[bytes | None, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout_s
        wanted = sum(ends.values())
        while len(records) < wanted and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                assert message.error() is None, message.error()
                records.append((message.key(), serializer.decode(message.value())))
        assert wanted == expected, f"{topic.name} holds {wanted} records, expected {expected}"
        return records
    finally:
        consumer.close()


def an_interaction(session_id: str, turn: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "turn_index": turn,
        "agent_id": "support-bot",
        "agent_version": "1.4.0",
        "model": "gpt-test",
        "prompt": "How do I reset my password?",
        "response": "Open Settings, then Security, then Reset password.",
        "latency_ms": 820,
        "prompt_tokens": 31,
        "completion_tokens": 54,
        "cost_usd": 0.0004,
        "tools_used": [{"name": "search_kb", "arguments": {"q": "reset"}, "latency_ms": 40}],
        "context": {"channel": "web"},
        "event_time": START_MS + turn * 1000,
        **extra,
    }


def test_events_read_back_equal_what_was_sent(
    tmp_path: Path, topics: ProducerTopics, bootstrap_servers: str
) -> None:
    session_id = f"s-{uuid.uuid4()}"
    with FeedbackClient(settings(tmp_path), topics=topics, registry=CollectorRegistry()) as client:
        first = client.log_interaction(**an_interaction(session_id))
        second = client.log_interaction(**an_interaction(session_id, 1, retry_of=first))
        feedback = client.log_feedback(
            session_id=session_id,
            interaction_id=second,
            kind="rating",
            rating=4,
            event_time=START_MS + 5000,
        )
        signal = client.log_signal(
            session_id=session_id, kind="task_completed", event_time=START_MS + 6000
        )
        assert client.flush(20) == 0
    stats = client.stats()
    assert (stats.sent, stats.delivered, stats.failed, stats.spooled) == (4, 4, 0, 0)

    interactions = read_back(bootstrap_servers, topics.interactions, 2)
    assert {key for key, _ in interactions} == {session_id.encode()}
    by_id = {record["event_id"]: record for _, record in interactions}
    assert by_id[second]["retry_of"] == first
    assert by_id[first] == {
        **an_interaction(session_id),
        "event_id": first,
        "tools_used": [
            {"name": "search_kb", "arguments": '{"q":"reset"}', "status": "ok", "latency_ms": 40}
        ],
        "user_id": None,
        "reasoning": None,
        "retry_of": None,
        "attachments": [],  # interaction v3: none given, none sent
    }
    [(_, got_feedback)] = read_back(bootstrap_servers, topics.feedback, 1)
    assert got_feedback == {
        "event_id": feedback,
        "session_id": session_id,
        "interaction_id": second,
        "event_time": START_MS + 5000,
        "kind": "rating",
        "thumbs_up": None,
        "rating": 4,
        "correction": None,
        "comment": None,
        "source": "end_user",
        "rater_id": None,
        "attachments": [],  # feedback v2
    }
    [(_, got_signal)] = read_back(bootstrap_servers, topics.signals, 1)
    assert got_signal["event_id"] == signal
    assert got_signal["kind"] == "task_completed"
    assert got_signal["source"] == "agent"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"session_id": MISSING}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"session_id": 17}, "session_id"),
        ({"turn_index": "first"}, "turn_index"),
        ({"tools_used": [{"name": "search", "status": "exploded"}]}, "tools_used[0].status"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"prompt": "x" * 70_000}, "prompt"),
        ({"event_time": 1_767_225_600}, "event_time"),
    ],
)
def test_invalid_input_raises_and_nothing_is_sent(
    tmp_path: Path,
    topics: ProducerTopics,
    bootstrap_servers: str,
    change: dict[str, Any],
    field: str,
) -> None:
    bad = {k: v for k, v in {**an_interaction("s-bad"), **change}.items() if v is not MISSING}
    with FeedbackClient(settings(tmp_path), topics=topics, registry=CollectorRegistry()) as client:
        client.log_interaction(**an_interaction("s-good"))
        with pytest.raises(InvalidRecordError) as caught:
            client.log_interaction(**bad)
        assert caught.value.field == field
        client.flush(20)
    assert client.stats().rejected == 1
    records = read_back(bootstrap_servers, topics.interactions, 1)
    assert [key for key, _ in records] == [b"s-good"]


async def test_async_client_delivers(
    tmp_path: Path, topics: ProducerTopics, bootstrap_servers: str
) -> None:
    async with AsyncFeedbackClient(
        settings(tmp_path), topics=topics, registry=CollectorRegistry()
    ) as client:
        ids = [await client.log_interaction(**an_interaction("s-async", i)) for i in range(5)]
        assert await client.flush(20) == 0
    got = read_back(bootstrap_servers, topics.interactions, 5)
    assert sorted(record["event_id"] for _, record in got) == sorted(ids)


@pytest.fixture()
def closed_port() -> Iterator[int]:
    """A local port nothing listens on (bound, never listening, so nobody else takes it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_unreachable_broker_spools_and_a_later_client_replays_exactly_once(
    tmp_path: Path, topics: ProducerTopics, bootstrap_servers: str, closed_port: int
) -> None:
    down = settings(
        tmp_path,
        bootstrap_servers=f"127.0.0.1:{closed_port}",
        delivery_timeout_ms=1500,
        close_timeout_s=3.0,
    )
    with FeedbackClient(down, topics=topics, registry=CollectorRegistry()) as offline:
        sent_ids = [offline.log_interaction(**an_interaction("s-spool", i)) for i in range(20)]
        sent_ids.append(offline.log_signal(session_id="s-spool", kind="task_failed"))
    stats = offline.stats()
    assert (stats.sent, stats.delivered, stats.failed, stats.spooled) == (21, 0, 21, 21)
    assert len(spool_files(down.spool_dir)) == 1

    up = settings(tmp_path)
    with FeedbackClient(up, topics=topics, registry=CollectorRegistry()) as online:
        assert online.replay_spool() == 21
        assert online.flush(20) == 0
        assert online.replay_spool() == 0  # the file is gone: nothing is sent twice
    stats = online.stats()
    assert (stats.replayed, stats.delivered, stats.spooled) == (21, 21, 0)
    assert spool_files(up.spool_dir) == []

    interactions = read_back(bootstrap_servers, topics.interactions, 20)
    signals = read_back(bootstrap_servers, topics.signals, 1)
    got = [record["event_id"] for _, record in interactions + signals]
    assert sorted(got) == sorted(sent_ids)


def test_a_new_client_replays_the_spool_on_start(
    tmp_path: Path, topics: ProducerTopics, bootstrap_servers: str, closed_port: int
) -> None:
    down = settings(
        tmp_path,
        bootstrap_servers=f"127.0.0.1:{closed_port}",
        delivery_timeout_ms=60_000,
        close_timeout_s=1.0,
    )
    with FeedbackClient(down, topics=topics, registry=CollectorRegistry()) as offline:
        event_id = offline.log_signal(session_id="s-start", kind="escalated_to_human")
    assert offline.stats().spooled == 1  # still queued at close: purged into the spool

    with FeedbackClient(
        settings(tmp_path, replay_spool_on_start=True), topics=topics, registry=CollectorRegistry()
    ) as online:
        deadline = time.monotonic() + 20
        while online.stats().delivered < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert online.stats().replayed == 1
    [(_, record)] = read_back(bootstrap_servers, topics.signals, 1)
    assert record["event_id"] == event_id
    assert spool_files(tmp_path / "spool") == []
