"""The worker's crash-only watchdog against a stalled fetch loop (no broker: end offsets given)."""

import asyncio
import time
from collections.abc import Sequence

import pytest
from faust.types import TP

from stream_processors import runtime as runtime_module
from stream_processors.app import build_app
from stream_processors.partition import PartitionProcessor
from stream_processors.runtime import ProcessorRuntime
from stream_processors.settings import ProcessorSettings


class _Ends:
    def __init__(self, ends: dict[TP, int]) -> None:
        self.ends = ends

    async def latest(self, partitions: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in partitions}


def _runtime(checkpoints: dict[int, int], end: int, stalled_s: float) -> ProcessorRuntime:
    """A worker owning partition 0 whose inputs end at `end`; `checkpoints` by topic index."""
    _, runtime = build_app(ProcessorSettings(namespace="watchdog", fetch_stall_timeout_s=60))
    topics = sorted(runtime.input_names)
    processor = PartitionProcessor(0, runtime.config, now=0)
    processor.offsets = {topics[i]: offset for i, offset in checkpoints.items()}
    runtime.processors = {0: processor}
    runtime.end_offsets = _Ends({TP(topic, 0): end for topic in topics})  # type: ignore[assignment]
    runtime._last_records_at = time.monotonic() - stalled_s
    return runtime


@pytest.fixture()
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []
    monkeypatch.setattr(runtime_module.os, "_exit", codes.append)
    monkeypatch.setattr(runtime_module.logging, "shutdown", lambda: None)
    return codes


def test_a_stalled_fetch_with_unread_records_exits_70(exits: list[int]) -> None:
    runtime = _runtime({0: 4, 1: 9, 2: 9}, end=10, stalled_s=61)  # five records never fetched
    asyncio.run(runtime._check_fetching(time.monotonic()))
    assert exits == [70]


def test_no_exit_when_everything_was_read_or_the_stall_is_short(exits: list[int]) -> None:
    read_to_the_end = _runtime({0: 9, 1: 9, 2: 9}, end=10, stalled_s=61)  # just no traffic
    asyncio.run(read_to_the_end._check_fetching(time.monotonic()))
    fetched_lately = _runtime({0: 4, 1: 9, 2: 9}, end=10, stalled_s=30)
    asyncio.run(fetched_lately._check_fetching(time.monotonic()))
    assert exits == []


def test_after_half_the_timeout_it_reads_again_from_the_checkpoints(exits: list[int]) -> None:
    runtime = _runtime({0: 4, 1: 9, 2: 9}, end=10, stalled_s=40)
    asyncio.run(runtime._check_fetching(time.monotonic()))
    assert exits == []
    assert runtime._reread_from_checkpoints
