"""Workers time garbage collections with one callback per process: `gc.callbacks` is
process-wide, and a callback per runtime ran every runtime's code in every collection."""

import gc
import logging

import pytest

from stream_processors import runtime as runtime_module
from stream_processors.app import build_app
from stream_processors.runtime import _GarbageCollectionClock
from stream_processors.settings import ProcessorSettings


def test_runtimes_share_one_collection_callback_and_each_reports_its_own_time() -> None:
    _, first = build_app(ProcessorSettings(namespace="gctiming"))
    callbacks = list(gc.callbacks)
    gc.collect()
    _, second = build_app(ProcessorSettings(namespace="gctiming2"))
    assert gc.callbacks == callbacks
    gc.collect()
    assert first.step_timings()["gc"] > second.step_timings()["gc"] > 0.0


def test_a_slow_collection_is_logged_by_the_worker_not_where_it_ran(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection runs wherever an allocation triggers it; the callback logged from there
    (found 7 Dec: in a CLI command's output, through a handler whose stream was closed). Now it
    records, and the worker's tick logs."""
    clock = _GarbageCollectionClock()
    readings = iter([10.0, 10.3])
    monkeypatch.setattr(runtime_module.time, "perf_counter", lambda: next(readings))
    with caplog.at_level(logging.INFO, logger=runtime_module.log.name):
        clock._on_collection("start", {"generation": 2})
        clock._on_collection("stop", {"generation": 2, "collected": 7})
        assert caplog.records == []
        assert clock.seconds == pytest.approx(0.3)
        clock.log_slow_pauses()
    [record] = caplog.records
    assert record.getMessage() == "garbage collection of generation 2 took 0.30 s (7 collected)"
    assert not clock.slow
