"""The flush policy: rows, bytes or latency, whichever comes first."""

import pyarrow as pa
import pytest

from sinks.micro_batch import FlushPolicy, MicroBatch

ROWS = pa.table({"x": [1, 2]})


def test_an_empty_batch_is_never_due() -> None:
    batch = MicroBatch(FlushPolicy(1, 1, 0.001))
    assert not batch.due() and batch.seconds_left() == float("inf")


@pytest.mark.parametrize(
    ("policy", "messages", "size"),
    [(FlushPolicy(2, 10**9, 60), 2, 1), (FlushPolicy(10**6, 100, 60), 1, 100)],
    ids=["rows", "bytes"],
)
def test_due_on_rows_or_bytes(policy: FlushPolicy, messages: int, size: int) -> None:
    batch = MicroBatch(policy)
    batch.add("t", ROWS, {("topic", 0): 5}, size - 1)
    batch.count(messages - 1)
    assert not batch.due()
    batch.add("t", ROWS, {("topic", 0): 6}, 1)
    batch.count(1)
    assert batch.due()


def test_due_on_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    batch = MicroBatch(FlushPolicy(10**6, 10**9, 5.0))
    monkeypatch.setattr(batch, "_monotonic", lambda: now[0])
    batch.add("t", ROWS, {("topic", 0): 1})
    batch.count(1)
    now[0] = 104.0
    assert not batch.due() and batch.seconds_left() == pytest.approx(1.0)
    now[0] = 105.0
    assert batch.due()


def test_offsets_keep_the_highest_per_partition_and_clear_resets() -> None:
    batch = MicroBatch(FlushPolicy(10, 10, 1))
    batch.add("t", ROWS, {("a", 0): 9, ("a", 1): 3})
    batch.add("t", None, {("a", 0): 4, ("a", 1): 8})
    buffer = batch.tables["t"]
    assert buffer.offsets == {("a", 0): 9, ("a", 1): 8}
    assert buffer.rows().num_rows == 2
    batch.count(2)
    batch.clear()
    assert batch.empty and batch.tables == {}
