"""Reliability scenarios 1, 2, 5, 13 and 14: pipeline processes killed or moved mid-stream.

Each produces a known workload through the SDK into a private stack, breaks something while the
events flow, lets the pipeline finish, and reconciles the lake with what was produced and what
the generator intended (`tests/e2e/pipeline_harness/reconcile.py`).
"""

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.pipeline_harness import Pipeline, scenario_traffic
from tests.e2e.pipeline_harness.scenario import outputs_flowing, run_scenario, wait_for
from tests.e2e.pipeline_harness.workload import BackgroundProducer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SESSIONS = 300
RATE = 250.0  # events/s: production lasts ~6 s, so faults land mid-stream


def test_processor_killed_with_sigkill_mid_stream_then_restarted(pipeline: Pipeline) -> None:
    killed_mid_stream: list[bool] = []

    def kill_and_restart(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 60, "the first enriched records")
        killed_mid_stream.append(producer.running())
        pipeline.processors[0].kill()
        assert pipeline.processors[0].process.returncode == -signal.SIGKILL
        time.sleep(1.0)
        pipeline.start_processor()

    run_scenario(pipeline, scenario_traffic(SESSIONS, seed=101), kill_and_restart, rate=RATE)
    assert killed_mid_stream == [True], "the worker was killed after the producer had finished"


def test_processor_killed_with_finals_persisted_but_not_sent(pipeline: Pipeline) -> None:
    """The worker's crash hook SIGKILLs it right after the checkpoint that persisted its second
    round of final metrics, before it sent them. Redis then counts those windows as published,
    so nobody computes them again: the restarted worker must send them from the finalizer's
    outbox (the reconciliation needs every window's final, with every count)."""
    config = scenario_traffic(SESSIONS, seed=110)
    pipeline.match_traffic(config)
    crashing = pipeline.start_processor({"FEEDBACK_PROCESSOR_CRASH_AT": "finals_persisted:2"})
    pipeline.start_sink()
    pipeline.wait_ready()

    def restart_after_crash(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: not crashing.alive(), 90, "the worker to die with finals persisted")
        assert crashing.process.returncode == -signal.SIGKILL, crashing.log_tail()
        pipeline.start_processor()

    run_scenario(pipeline, config, restart_after_crash, rate=RATE, already_started=True)


def test_sink_killed_with_sigkill_mid_batch_then_restarted(pipeline: Pipeline) -> None:
    """The sink's crash hook SIGKILLs it between writing a batch's Parquet files and its Delta
    commit (the third batch); the restarted sink must neither lose nor repeat a row."""

    def restart_after_crash(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        crashed = pipeline.sinks[0]
        wait_for(lambda: not crashed.alive(), 90, "the sink to crash mid-batch")
        assert crashed.process.returncode == -signal.SIGKILL, crashed.log_tail()
        assert _orphan_parquet_files(pipeline.lake_dir / pipeline.namespace), (
            "the crash left no uncommitted Parquet file: it did not happen mid-batch"
        )
        pipeline.start_sink()

    run_scenario(
        pipeline,
        scenario_traffic(SESSIONS, seed=102),
        restart_after_crash,
        rate=RATE,
        first_sink_env={"FEEDBACK_SINK_CRASH_AT": "during_write:3"},
    )


def test_two_workers_one_stopped_and_started_again(pipeline: Pipeline) -> None:
    """Two workers share the partitions; one leaves (rebalance: the other takes everything) and
    comes back (rebalance again) while events flow."""

    def rebalance_twice(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 60, "the first enriched records")
        pipeline.processors[1].stop()
        time.sleep(3.0)
        pipeline.start_processor()

    run_scenario(
        pipeline, scenario_traffic(SESSIONS, seed=105), rebalance_twice, rate=RATE, workers=2
    )


def _orphan_parquet_files(namespace_dir: Path) -> list[Path]:
    """Data files no Delta log entry names (written by a batch whose commit never happened);
    a file still being written has a staging name (`<name>.parquet#1`), so every name counts."""
    import json

    orphans = []
    for table in namespace_dir.iterdir():
        log = table / "_delta_log"
        if not log.is_dir():
            continue
        named = set()
        for entry in log.glob("*.json"):
            for line in entry.read_text().splitlines():
                action = json.loads(line)
                if "add" in action:
                    named.add(action["add"]["path"])
        for data in table.rglob("*"):
            relative = str(data.relative_to(table))
            if data.is_file() and "_delta_log" not in data.parts and relative not in named:
                orphans.append(data)
    return orphans


def test_two_workers_one_crashes_for_good(pipeline: Pipeline) -> None:
    """Two workers share the partitions; one is SIGKILLed mid-stream and never comes back (no
    LeaveGroup: the group notices after the session timeout). The other takes every partition
    and finishes the stream alone, without exiting."""
    killed_mid_stream: list[bool] = []

    def crash_one(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 60, "the first enriched records")
        killed_mid_stream.append(producer.running())
        pipeline.processors[1].kill()

    run_scenario(pipeline, scenario_traffic(SESSIONS, seed=106), crash_one, rate=RATE, workers=2)
    assert killed_mid_stream == [True], "the worker was killed after the producer had finished"
    assert pipeline.processors[0].alive(), pipeline.describe()
