"""docs/lake.md's example queries on the `turns` and `feedback` views of a real run equal the
processor's final metrics of that run (what the dashboard shows).

Generator traffic (late feedback: revisions; session-level feedback: copies on every turn;
duplicates, bad records, too-late events) goes through a real processor worker and the real
Delta sink; `feedbackctl lake views` builds the views; every DuckDB and polars block of the
Views section runs as printed (paths pointed at this run's lake) and is compared with the final
`quality_metrics` records.
"""

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from feedbackctl.main import app
from sinks import DeltaSink, SinkSettings
from sinks.lake import Lake
from sinks.lake_reader import dedupe, read_polars
from sinks.views import views_source_version
from tests.integration.test_processor_support import (
    Worker,
    namespace_for,
    traffic_config,
    wait_for_settled,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lake.md"
WINDOW_MS = 60_000  # the docs' queries use the processor's default window
# Several windows; a third of the sessions handed to another agent mid-way (docs/semantics.md).
CONFIG = traffic_config(sessions=90, seed=47, sessions_per_second=0.5, handoff_share=0.3)
_PER_VERSION_FEEDBACK = ("thumbs_up", "thumbs_down", "ratings", "corrections")
_OUTCOMES = ("completed", "failed", "abandoned", "escalated")
_PER_WINDOW = ("interactions", "tool_calls", "tool_errors", "interactions_with_feedback")


def doc_queries() -> dict[str, str]:
    """`# duckdb: ...` / `# polars: ...` python blocks of docs/lake.md, by their first line."""
    blocks = re.findall(
        r"```python\n(# (?:duckdb|polars): [^\n]+)\n(.*?)```", DOCS.read_text(), re.S
    )
    return {title[2:]: body for title, body in blocks}


def run_query(code: str, views_dir: str) -> pl.DataFrame:
    assert '"lake/' in code
    scope: dict[str, Any] = {}
    exec(compile(code.replace('"lake/', f'"{views_dir}/'), "docs/lake.md", "exec"), scope)
    result = scope["result"]
    assert isinstance(result, pl.DataFrame)
    return result


def final_metrics(lake: Lake) -> pl.DataFrame:
    metrics = dedupe(read_polars("quality_metrics", lake=lake), "quality_metrics")
    finals = metrics.filter(pl.col("is_final")).unique(
        ["agent_id", "agent_version", "window_start"], keep="last"
    )
    return finals.with_columns(pl.col("window_start").dt.epoch("ms").alias("window_start_ms"))


def per_version(finals: pl.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for row in finals.iter_rows(named=True):
        total = totals[(row["agent_id"], row["agent_version"])]
        for name in (*_PER_VERSION_FEEDBACK, "sessions", *[f"sessions_{o}" for o in _OUTCOMES]):
            total[name] += row[name]
        total["rating_sum"] += (row["mean_rating"] or 0.0) * row["ratings"]
    return totals


def rows_by(frame: pl.DataFrame, *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = {tuple(row[k] for k in keys): row for row in frame.iter_rows(named=True)}
    assert len(rows) == frame.height, f"repeated keys {keys} in the query's result"
    return rows


@pytest.fixture(scope="module")
def run(bootstrap_servers: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("views")
    window = {"FEEDBACK_PROCESSOR_METRICS_WINDOW_S": str(WINDOW_MS // 1000)}
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        worker = Worker(namespace, tmp / "worker.log", env_overrides=window)
        try:
            produced = namespace.produce(CONFIG)
            wait_for_settled(namespace, produced, worker)
        finally:
            worker.stop()
        sink = SinkSettings(
            bootstrap_servers=bootstrap_servers,
            lake_uri=str(tmp / "lake"),
            namespace=namespace.name,
            group_id=f"views-{namespace.name}",
            flush_latency_s=0.5,
        )
        DeltaSink(sink).run(exit_when_idle_s=3.0)
    lake = Lake.from_settings(sink)
    cli = CliRunner().invoke(
        app, ["lake", "views", "--lake-uri", sink.lake_uri, "--namespace", sink.namespace]
    )
    assert cli.exit_code == 0, cli.output
    assert "views rebuilt" in cli.output
    return lake, f"{sink.lake_uri}/{sink.namespace}", final_metrics(lake), cli.output


def test_the_run_has_what_makes_the_raw_table_a_trap(run: Any) -> None:
    lake, _, finals, _ = run
    enriched = read_polars("enriched_interactions", lake=lake)
    turns = read_polars("turns", lake=lake)
    feedback = read_polars("feedback", lake=lake)
    assert enriched.height > turns.height == finals["interactions"].sum() > 100
    assert (feedback["level"] == "session").sum() > 0 and (feedback["level"] == "turn").sum() > 0
    copies = enriched.select(pl.col("feedback").list.len().sum()).item()
    assert copies > feedback.height == feedback["event_id"].n_unique()
    assert views_source_version(lake) == lake.open("enriched_interactions").version()


def test_a_second_run_without_new_data_writes_nothing(run: Any) -> None:
    lake, *_ = run
    versions = [lake.open(name).version() for name in ("turns", "feedback")]
    cli = CliRunner().invoke(
        app, ["lake", "views", "--lake-uri", lake.uri, "--namespace", lake.prefix.rstrip("/")]
    )
    assert cli.exit_code == 0, cli.output
    assert "already current" in cli.output
    assert [lake.open(name).version() for name in ("turns", "feedback")] == versions


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_feedback_per_version_equals_the_final_metrics(run: Any, engine: str) -> None:
    _, views_dir, finals, _ = run
    code = doc_queries()[f"{engine}: thumbs-up rate, mean rating and corrections per agent version"]
    found = rows_by(run_query(code, views_dir), "agent_id", "agent_version")
    expected = per_version(finals)
    assert set(found) == set(expected)
    assert sum(e["thumbs_up"] + e["thumbs_down"] for e in expected.values()) > 20
    for key, want in expected.items():
        got = found[key]
        for name in _PER_VERSION_FEEDBACK:
            assert got[name] == want[name], (key, name)
        thumbs = want["thumbs_up"] + want["thumbs_down"]
        rate = want["thumbs_up"] / thumbs if thumbs else None
        assert got["thumbs_up_rate"] == _approx(rate, 1e-12), key
        mean = want["rating_sum"] / want["ratings"] if want["ratings"] else None
        assert got["mean_rating"] == _approx(mean, 1e-9), key


def _approx(value: float | None, rel: float) -> Any:
    """A version without thumbs or ratings (a specialist handed a few turns) has no rate."""
    return None if value is None else pytest.approx(value, rel=rel)


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_sessions_per_version_equal_the_final_metrics(run: Any, engine: str) -> None:
    _, views_dir, finals, _ = run
    code = doc_queries()[f"{engine}: sessions and outcomes per agent version"]
    found = rows_by(run_query(code, views_dir), "agent_id", "agent_version")
    expected = per_version(finals)
    assert set(found) == set(expected)
    for key, want in expected.items():
        for name in ("sessions", *[f"sessions_{o}" for o in _OUTCOMES]):
            assert found[key][name] == want[name], (key, name)


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_windows_equal_the_final_metrics(run: Any, engine: str) -> None:
    _, views_dir, finals, _ = run
    code = doc_queries()[f"{engine}: each 60 s window: turns, tool errors, cost, feedback coverage"]
    found = rows_by(run_query(code, views_dir), "agent_id", "agent_version", "window_start_ms")
    with_turns = finals.filter(pl.col("interactions") > 0)
    expected = rows_by(with_turns, "agent_id", "agent_version", "window_start_ms")
    assert set(found) == set(expected)
    assert len(expected) > 5
    for key, want in expected.items():
        for name in _PER_WINDOW:
            assert found[key][name] == want[name], (key, name)
        assert found[key]["cost_usd"] == pytest.approx(want["cost_usd"], rel=1e-9), key
