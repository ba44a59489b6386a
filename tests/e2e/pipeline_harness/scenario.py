"""One reliability scenario from start to reconciliation, with a fault injected mid-stream."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from producers.bad_records import BadRecord
from producers.traffic import TrafficConfig
from schemas.topics import ENRICHED
from tests.e2e.pipeline_harness.reconcile import LakeSnapshot, reconcile
from tests.e2e.pipeline_harness.services import Pipeline
from tests.e2e.pipeline_harness.workload import BackgroundProducer, Produced

__all__ = ["Fault", "ScenarioResult", "outputs_flowing", "run_scenario", "wait_for"]

Fault = Callable[[Pipeline, BackgroundProducer], None]


@dataclass
class ScenarioResult:
    produced: Produced
    snapshot: LakeSnapshot
    elapsed_s: float


def run_scenario(
    pipeline: Pipeline,
    config: TrafficConfig,
    fault: Fault | None = None,
    rate: float = 400.0,
    workers: int = 1,
    repeat: int = 1,
    extra_bad: Sequence[BadRecord] = (),
    first_sink_env: dict[str, str] | None = None,
    settle_timeout_s: float = 150.0,
    already_started: bool = False,
) -> ScenarioResult:
    """Start `workers` processors and a sink (unless `already_started`), produce `config` at
    `rate` events/s (0: as fast as the SDK sends) while `fault` runs, wait until every window
    is final and the lake holds every offset, then reconcile."""
    started = time.monotonic()
    if not already_started:
        pipeline.match_traffic(config)
        for _ in range(workers):
            pipeline.start_processor()
        pipeline.start_sink(first_sink_env)
        pipeline.wait_ready()
    producer = BackgroundProducer(
        config, pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir, rate, repeat, extra_bad
    )
    pipeline.producers.append(producer)
    if fault is not None:
        fault(pipeline, producer)
    produced = producer.result(timeout_s=240)
    pipeline.wait_settled(produced, settle_timeout_s)
    pipeline.wait_lake_caught_up(90)
    snapshot = LakeSnapshot.read(pipeline.lake, pipeline.namespace, pipeline.end_offsets())
    reconcile(snapshot, produced)
    return ScenarioResult(produced, snapshot, time.monotonic() - started)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `check` every 0.2 s; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def outputs_flowing(pipeline: Pipeline) -> bool:
    """True once the processor has published enriched records (it is mid-stream)."""
    topic = ENRICHED.in_namespace(pipeline.namespace).name
    return sum(end for (name, _), end in pipeline.end_offsets().items() if name == topic) > 0
