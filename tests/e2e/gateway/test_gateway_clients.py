"""The example clients against the gateway on a real stack, read back from the lake.

The TypeScript example (Node's built-in fetch) and the OpenTelemetry example (the OTel SDK and
its OTLP/HTTP exporter, nothing of ours) report sessions through the gateway; the processor and
the Delta sink run as users start them, and each client's turns must be in
`enriched_interactions`. Node is a system dependency (scripts/install-system-deps.sh): when it
is missing this test fails rather than skipping.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from gateway.keys import KeyFile
from tests.e2e.pipeline_harness import Pipeline
from tests.integration.gateway.process import GatewayProcess, start_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[3]
TYPESCRIPT = ROOT / "examples" / "typescript"


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def typescript_session(gateway: GatewayProcess, key: str) -> dict[str, Any]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed (scripts/install-system-deps.sh installs them)"
    run([npm, "ci", "--no-audit", "--no-fund"], TYPESCRIPT)
    run([npm, "run", "build"], TYPESCRIPT)
    out = run(
        [node, "dist/send_feedback.js"], TYPESCRIPT,
        {"GATEWAY_URL": gateway.url, "GATEWAY_API_KEY": key},
    )  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def otel_session(gateway: GatewayProcess, key: str) -> dict[str, Any]:
    out = run(
        [sys.executable, str(ROOT / "examples" / "otel" / "send_traces.py")], ROOT,
        {"GATEWAY_URL": gateway.url, "GATEWAY_API_KEY": key},
    )  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def enriched(pipeline: Pipeline, sessions: list[str]) -> list[dict[str, Any]]:
    if not pipeline.lake.exists("enriched_interactions"):
        return []
    table = pipeline.lake.open("enriched_interactions").to_pyarrow_table(
        filters=pc.field("session_id").isin(sessions)
    )
    return list(table.to_pylist())


def test_typescript_and_opentelemetry_clients_reach_the_lake(pipeline: Pipeline) -> None:
    # The OpenTelemetry session sends no terminal signal: it closes as abandoned after 10 s.
    pipeline.start_processor({"FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "10"})
    pipeline.start_sink()
    pipeline.wait_ready()
    # Keys made before the start: the gateway reads them at once (a key added later is seen
    # within a second, when the gateway next looks at the file).
    keys = KeyFile(pipeline.work_dir / "gateway" / "keys.json")
    ts_key, otel_key = keys.add("ts-support-bot")[1], keys.add("otel-support-bot")[1]
    gateway = start_gateway(pipeline.work_dir / "gateway", pipeline.bootstrap, pipeline.namespace)
    try:
        ts = typescript_session(gateway, ts_key)
        otel = otel_session(gateway, otel_key)
        assert otel["failed_exports"] == 0
        sessions = [ts["session_id"], otel["session_id"]]

        def both_there() -> bool:
            rows = enriched(pipeline, sessions)
            return {r["session_id"] for r in rows} == set(sessions) and len(
                {r["event_id"] for r in rows}
            ) == 4

        pipeline.wait_until(both_there, 240, "both clients' turns in enriched_interactions")
    finally:
        gateway.stop()
    rows = enriched(pipeline, sessions)
    latest = {r["event_id"]: r for r in sorted(rows, key=lambda r: r["revision"])}
    ts_turns = [latest[i] for i in ts["interaction_ids"]]
    assert [t["agent_id"] for t in ts_turns] == ["ts-support-bot"] * 2
    assert [t["tools_used"][0]["name"] for t in ts_turns[:1]] == ["lookup_order"]
    assert ts_turns[0]["session_outcome"] == "completed"  # closed by its task_completed signal
    assert [f["kind"] for f in ts_turns[1]["feedback"]] == ["thumbs"]
    otel_turns = sorted(
        (r for r in latest.values() if r["session_id"] == otel["session_id"]),
        key=lambda r: r["turn_index"],
    )
    assert [(t["agent_id"], t["agent_version"], t["model"]) for t in otel_turns] == [
        ("otel-support-bot", "0.9.1", "acme-llm-large")
    ] * 2
    assert [t["prompt"] for t in otel_turns] == ["Where is my order 42?", "And when?"]
    assert [t["name"] for t in otel_turns[0]["tools_used"]] == ["lookup_order"]
    assert [f["kind"] for f in otel_turns[1]["feedback"]] == ["thumbs"]
