"""An input partition nothing was applied from yet: its first record must be the log's first.

A worker that took over a partition in a rebalance dropped the batch it fetched while paused and
sought back only the partitions with a checkpoint; a feedback partition whose first records came
in that batch lost them for good (`test_process_faults.py`, two workers, one stopped and started
again: 26 thumbs and ratings missing from the enriched records and the final metrics).
"""

import asyncio
import time
from collections.abc import Sequence
from types import SimpleNamespace

from faust.types import TP

from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK
from stream_processors.app import build_app
from stream_processors.partition import PartitionProcessor
from stream_processors.runtime import ProcessorRuntime
from stream_processors.settings import ProcessorSettings
from tests.unit.sinks.events import feedback
from tests.unit.stream_processors.conftest import FetchedRecord

NAMESPACE = "unread"
TOPIC = FEEDBACK.in_namespace(NAMESPACE).name


class _LogStarts:
    """The broker's answer: every partition's log starts at `start`."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.asked: list[TP] = []

    async def earliest(self, partitions: Sequence[TP]) -> dict[TP, int]:
        self.asked.extend(partitions)
        return dict.fromkeys(partitions, self.start)


class _Consumer:
    def __init__(self) -> None:
        self.seeks: dict[TP, int] = {}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks[tp] = offset


def _runtime(log_start: int) -> tuple[ProcessorRuntime, PartitionProcessor, _LogStarts]:
    _, runtime = build_app(ProcessorSettings(namespace=NAMESPACE))
    processor = PartitionProcessor(0, runtime.config, now=0)
    runtime.processors = {0: processor}
    starts = _LogStarts(log_start)
    runtime.end_offsets = starts  # type: ignore[assignment]
    return runtime, processor, starts


def _feedback_at(offset: int) -> FetchedRecord:
    now_ms = int(time.time() * 1000)
    value = serializer_for(FEEDBACK.in_namespace(NAMESPACE)).encode(feedback("s-1", None, now_ms))
    return FetchedRecord(TOPIC, 0, offset, now_ms, b"s-1", value)


def _ingest(runtime: ProcessorRuntime, record: FetchedRecord) -> None:
    runtime._ingest(record, {0}, time.monotonic() * 1000, int(time.time() * 1000), [])


def test_a_partition_without_checkpoint_is_read_from_its_log_start() -> None:
    runtime, processor, starts = _runtime(log_start=0)
    asyncio.run(runtime._learn_log_starts())
    assert TP(TOPIC, 0) in starts.asked

    _ingest(runtime, _feedback_at(6))  # offsets 0-5 were fetched while paused and dropped
    assert TOPIC not in processor.offsets  # not applied ...
    assert runtime.gaps.take_seeks() == {TP(TOPIC, 0): 0}  # ... read again from the start

    for offset in range(7):
        _ingest(runtime, _feedback_at(offset))
    assert processor.offsets[TOPIC] == 6
    assert runtime.stats["events"] == 7


def test_a_log_that_retention_shortened_starts_where_it_now_starts() -> None:
    runtime, processor, _ = _runtime(log_start=40)
    asyncio.run(runtime._learn_log_starts())
    _ingest(runtime, _feedback_at(40))
    assert processor.offsets[TOPIC] == 40
    assert runtime.gaps.take_seeks() == {}


def test_reading_again_after_a_rebalance_includes_partitions_without_checkpoint() -> None:
    runtime, processor, _ = _runtime(log_start=3)
    interactions = next(name for name in runtime.input_names if "interactions" in name)
    processor.offsets = {interactions: 41}
    asyncio.run(runtime._learn_log_starts())
    consumer = _Consumer()
    runtime.app = SimpleNamespace(consumer=consumer)  # type: ignore[assignment]
    asyncio.run(runtime._seek_to_checkpoints())
    signals = next(name for name in runtime.input_names if "signals" in name)
    assert consumer.seeks == {TP(interactions, 0): 42, TP(TOPIC, 0): 3, TP(signals, 0): 3}


def test_an_unknown_log_start_leaves_the_partition_read_as_it_comes() -> None:
    runtime, processor, _ = _runtime(log_start=0)
    # _learn_log_starts not run (or its request failed): no order to check against
    _ingest(runtime, _feedback_at(6))
    assert processor.offsets[TOPIC] == 6
