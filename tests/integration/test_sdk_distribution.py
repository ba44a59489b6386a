"""The light SDK (`agent-feedback-sdk`): its wheel is built from this repository
(packaging/sdk/build_wheel.py), installed into a clean virtualenv without the pipeline's heavy
dependencies, and its example sends events that a real sink writes to the lake."""

import json
import os
import subprocess
import sys
import uuid
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.lake import RAW_EVENTS
from schemas.topics import TOPICS
from sinks.lake import Lake
from sinks.lake_reader import read_table
from tests.integration.test_processor_support import ROOT, Namespace, namespace_for
from tests.integration.test_prometheus_endpoints import Service, wait_for

# What an agent must not have to install (distribution names, normalised).
HEAVY = {"faust-streaming", "faust", "deltalake", "polars", "aiohttp"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("sdk")
    built = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "sdk" / "build_wheel.py"), "--out", str(tmp)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = Path(built.stdout.strip().splitlines()[-1])
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return Installed(wheel, python)


def test_the_wheel_holds_one_top_level_package(sdk: Installed) -> None:
    with zipfile.ZipFile(sdk.wheel) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
        avsc = [n for n in wheel.namelist() if n.endswith(".avsc")]
    assert {t for t in tops if not t.endswith(".dist-info")} == {"agent_feedback_sdk"}
    assert avsc  # the schema catalog ships with it
    assert sdk.wheel.name.startswith("agent_feedback_sdk-0.1.0-")


def test_the_install_pulls_none_of_the_pipelines_heavy_dependencies(sdk: Installed) -> None:
    listed = subprocess.run(
        [str(sdk.python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = {_normalised(p["name"]) for p in json.loads(listed.stdout)}
    assert {"agent-feedback-sdk", "confluent-kafka", "fastavro"} <= names
    assert not names & HEAVY, sorted(names & HEAVY)
    # Nor can the SDK reach them: importing it loads none of them.
    probe = (
        "import sys, agent_feedback_sdk; "
        "print(sorted(m for m in ('faust', 'deltalake', 'polars', 'aiohttp', 'pyarrow') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [str(sdk.python), "-c", probe], capture_output=True, text=True, check=True, cwd="/"
    )
    assert loaded.stdout.strip() == "[]"


@pytest.fixture
def namespace(bootstrap_servers: str, redis_url: str) -> Iterator[Namespace]:
    with namespace_for(bootstrap_servers, redis_url) as created:
        yield created


def test_the_example_sends_an_event_that_lands_in_the_lake(
    sdk: Installed, namespace: Namespace, tmp_path: Path
) -> None:
    assert len(TOPICS) >= 3
    lake_root = tmp_path / "lake"
    sink = Service(
        ["sink", "--namespace", namespace.name, "--log-level", "WARNING"],
        {
            "FEEDBACK_SINK_BOOTSTRAP_SERVERS": namespace.bootstrap,
            "FEEDBACK_SINK_LAKE_URI": str(lake_root),
            "FEEDBACK_SINK_FLUSH_LATENCY_S": "1",
        },
        tmp_path / "sink.log",
    )
    try:
        clean_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "PYTHON"))
        }
        clean_env |= {
            "FEEDBACK_PRODUCER_BOOTSTRAP_SERVERS": namespace.bootstrap,
            "FEEDBACK_PRODUCER_TOPIC_NAMESPACE": namespace.name,
            "FEEDBACK_PRODUCER_SPOOL_DIR": str(tmp_path / "spool"),
        }
        sent = subprocess.run(
            [str(sdk.python), str(ROOT / "packaging" / "sdk" / "example.py")],
            capture_output=True, text=True, check=False, env=clean_env, cwd=tmp_path,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        event_id = str(uuid.UUID(sent.stdout.strip().splitlines()[-1]))
        lake = Lake(str(lake_root), f"{namespace.name}/")

        def landed() -> bool:
            if not (lake_root / namespace.name / RAW_EVENTS.name).exists():
                return False
            rows = read_table(RAW_EVENTS.name, lake=lake, columns=["event_id", "decode_error"])
            return {"event_id": event_id, "decode_error": None} in rows.to_pylist()

        wait_for(landed, 90, "the example's interaction in raw_events", [sink])
    finally:
        sink.stop()
