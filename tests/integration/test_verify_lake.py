"""`feedbackctl verify` on a real lake: generator traffic through a real processor worker and
the real Delta sink, then the batch reference must find no difference."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackctl.main import app
from sinks import DeltaSink, SinkSettings
from sinks.lake import Lake
from stream_processors.settings import ProcessorSettings
from tests.integration.test_processor_support import (
    WORKER_ENV,
    Worker,
    namespace_for,
    traffic_config,
    wait_for_settled,
)
from verification.lake_check import verify_lake

CONFIG = traffic_config(sessions=80, seed=31)


def test_the_lake_of_a_real_run_matches_the_reference(
    bootstrap_servers: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WORKER_ENV.items():  # the reference uses the worker's timing rules
        monkeypatch.setenv(name, value)
    lake_dir = tmp_path / "lake"
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        worker = Worker(namespace, tmp_path / "worker.log")
        try:
            produced = namespace.produce(CONFIG)
            wait_for_settled(namespace, produced, worker)
        finally:
            worker.stop()
        sink = SinkSettings(
            bootstrap_servers=bootstrap_servers,
            lake_uri=str(lake_dir),
            namespace=namespace.name,
            group_id=f"verify-{namespace.name}",
            flush_latency_s=0.5,
        )
        DeltaSink(sink).run(exit_when_idle_s=3.0)

        result = verify_lake(Lake.from_settings(sink), ProcessorSettings())
        assert result.compared["enriched_interactions"] > 100
        assert result.compared["quality_metrics"] > 10
        assert result.compared["dead_letters"] > 5
        assert result.compared["inferred signals"] > 0
        assert result.ok, "\n".join(d.line() for d in result.differences)

        output = CliRunner().invoke(
            app, ["verify", "--namespace", namespace.name, "--lake-dir", str(lake_dir)]
        )
        assert output.exit_code == 0, output.output
        assert "no differences" in output.output
