from types import SimpleNamespace

from faust.types import TP

from stream_processors.batch_transport import _batch


def _records(topic: str, partition: int, *offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(topic=topic, partition=partition, offset=o) for o in offsets]


def test_a_batch_holds_the_records_of_active_partitions_in_offset_order() -> None:
    a, b, paused = TP("in", 0), TP("in", 1), TP("in", 2)
    fetched = {
        a: _records("in", 0, 5, 6),
        paused: _records("in", 2, 9),  # fetched just before it was paused: not handed over
        b: _records("in", 1, 1, 2, 3),
    }
    batch = _batch(fetched, active={a, b}, buffered=set())
    assert [(r.partition, r.offset) for r in batch] == [(0, 5), (0, 6), (1, 1), (1, 2), (1, 3)]
    # No active set (client-only consumers) means every partition; buffered ones count as active.
    assert len(_batch(fetched, active=None, buffered=set())) == 6
    assert len(_batch(fetched, active={a}, buffered={paused})) == 3
