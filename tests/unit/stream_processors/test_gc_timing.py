"""Workers time garbage collections with one callback per process: `gc.callbacks` is
process-wide, and a callback per runtime ran every runtime's code in every collection."""

import gc

from stream_processors.app import build_app
from stream_processors.settings import ProcessorSettings


def test_runtimes_share_one_collection_callback_and_each_reports_its_own_time() -> None:
    _, first = build_app(ProcessorSettings(namespace="gctiming"))
    callbacks = list(gc.callbacks)
    gc.collect()
    _, second = build_app(ProcessorSettings(namespace="gctiming2"))
    assert gc.callbacks == callbacks
    gc.collect()
    assert first.step_timings()["gc"] > second.step_timings()["gc"] > 0.0
