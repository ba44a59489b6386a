"""The worker counts events that reach it after their partition's watermark passed them, and
logs those whose metrics window was already closed (docs/semantics.md)."""

import logging
import time
from typing import Any

import pytest

from stream_processors.app import build_app
from stream_processors.partition import PartitionProcessor
from stream_processors.runtime import ProcessorRuntime
from stream_processors.settings import ProcessorSettings
from tests.unit.stream_processors.conftest import EventFactory, FetchedRecord


def _runtime() -> tuple[ProcessorRuntime, dict[str, str]]:
    _, runtime = build_app(ProcessorSettings(namespace="late", metrics_window_s=10))
    runtime.processors = {0: PartitionProcessor(0, runtime.config, now=0)}
    topics = {name.split(".")[1]: name for name in runtime.input_names}
    return runtime, topics


def _ingest(runtime: ProcessorRuntime, topic: str, offset: int, entry: dict[str, Any]) -> None:
    record = entry["record"]
    value = runtime.decoder.encode(topic, record)
    message = FetchedRecord(
        topic, 0, offset, record["event_time"], record["session_id"].encode(), value
    )
    runtime._ingest(message, {0}, time.monotonic() * 1000, int(time.time() * 1000), [])


def test_an_event_behind_the_watermark_is_counted_and_a_closed_window_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, topics = _runtime()
    events = EventFactory()
    turn = events.interaction(1.0)
    _ingest(runtime, topics["interactions"], 0, turn)
    _ingest(runtime, topics["interactions"], 1, events.interaction(25.0, turn=1))
    processor = runtime.processors[0]
    processor.advance(time.monotonic() * 1000, None)  # every input read: watermark 24 s
    assert runtime.stats["late"] == 0
    feedback = events.feedback(2.0, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    with caplog.at_level(logging.INFO, logger="stream_processors.runtime"):
        _ingest(runtime, topics["feedback"], 0, feedback)
        _ingest(runtime, topics["feedback"], 1, feedback)  # sent twice: one late event
        _ingest(runtime, topics["feedback"], 2, events.feedback(23.5, thumbs_up=True))
    assert runtime.stats["late"] == 2
    assert runtime.stats["duplicates"] == 1
    closed = [r.getMessage() for r in caplog.records if "was closed" in r.getMessage()]
    assert len(closed) == 1, closed
    assert f"{topics['feedback']}[0]@0: event time {feedback['record']['event_time']}" in closed[0]
    assert f"{topics['feedback']}: None silent None" in closed[0]  # it had shown nothing


def test_an_event_ahead_of_the_watermark_is_not_late() -> None:
    runtime, topics = _runtime()
    events = EventFactory()
    _ingest(runtime, topics["interactions"], 0, events.interaction(5.0))
    runtime.processors[0].advance(time.monotonic() * 1000, None)
    _ingest(runtime, topics["interactions"], 1, events.interaction(5.0, turn=1))
    _ingest(runtime, topics["feedback"], 0, events.feedback(6.0, thumbs_up=True))
    assert runtime.stats["late"] == 0
