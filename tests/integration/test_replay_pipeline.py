"""Replay through the real processor: a live run, then the same range replayed from the topics and
backfilled from the lake, must give identical enriched records and final metrics."""

import os
import subprocess
import sys
from pathlib import Path

from replay.backfill import backfill_from_lake
from replay.settings import ReplaySettings
from replay.topic_copy import copy_input_range
from tests.integration.test_processor_support import (
    ROOT,
    Outputs,
    Worker,
    namespace_for,
    run_to_completion,
    traffic_config,
    wait_for_settled,
)

CONFIG = traffic_config(sessions=100, seed=23)


def _sink_to_lake(bootstrap: str, namespace: str, lake: Path, log: Path) -> None:
    """Run the Delta sink over the namespace until it has been idle for a few seconds."""
    env = {
        **os.environ,
        "FEEDBACK_SINK_BOOTSTRAP_SERVERS": bootstrap,
        "FEEDBACK_SINK_LAKE_URI": str(lake),
    }
    with log.open("ab") as output:
        subprocess.run(
            [sys.executable, "-m", "feedbackctl", "sink", "--namespace", namespace,
             "--exit-when-idle", "4"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=180, check=True,
        )  # fmt: skip


def test_replay_and_backfill_reproduce_the_live_run(
    bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    with namespace_for(bootstrap_servers, redis_url) as live:
        worker = Worker(live, tmp_path / "live-worker.log")
        try:
            produced = live.produce(CONFIG)  # while the worker runs: a live run
            wait_for_settled(live, produced, worker)
        finally:
            worker.stop()
        live_out = Outputs.read(live)
        assert live_out.enriched and live_out.finals()
        lake = tmp_path / "lake"
        _sink_to_lake(bootstrap_servers, live.name, lake, tmp_path / "sink.log")
        settings = ReplaySettings(bootstrap_servers=bootstrap_servers, lake_uri=str(lake))

        with namespace_for(bootstrap_servers, redis_url) as replay:
            copied = copy_input_range(settings, replay.name, source_namespace=live.name)
            assert copied.records >= produced.messages  # + the abandonments the live run inferred
            replayed = run_to_completion(replay, produced, tmp_path / "replay-worker.log")
        assert replayed.enriched_by_key() == live_out.enriched_by_key()
        assert replayed.finals() == live_out.finals()

        with namespace_for(bootstrap_servers, redis_url) as backfilled:
            result = backfill_from_lake(
                settings, backfilled.name, table_prefix=f"{live.name}/", source_namespace=live.name
            )
            assert result.records == copied.records
            rebuilt = run_to_completion(backfilled, produced, tmp_path / "backfill-worker.log")
        assert rebuilt.enriched_by_key() == live_out.enriched_by_key()
        assert rebuilt.finals() == live_out.finals()
