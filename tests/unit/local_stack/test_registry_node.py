"""The schema registry node's build project and settings, without Maven or Java."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from local_stack import registry_node
from local_stack.exceptions import StackError
from local_stack.registry_node import _POM, RegistryNode, RegistrySettings, runner_jar

POM = "{http://maven.apache.org/POM/4.0.0}"


def test_the_build_project_is_a_pom_of_the_chosen_versions() -> None:
    text = _POM.replace("@VERSION@", "2.4.2.Final").replace("@QUARKUS_VERSION@", "2.16.4.Final")
    project = ET.fromstring(text)
    dependency = project.find(f"{POM}dependencies/{POM}dependency")
    assert dependency is not None
    assert dependency.findtext(f"{POM}artifactId") == "apicurio-registry-app"
    assert dependency.findtext(f"{POM}version") == "2.4.2.Final"
    excluded = {e.findtext(f"{POM}artifactId") for e in dependency.iter(f"{POM}exclusion")}
    assert excluded == {"org.everit.json.schema", "apicurio-common-app-components-config-index"}
    plugins = {p.findtext(f"{POM}artifactId"): p for p in project.iter(f"{POM}plugin")}
    assert plugins["quarkus-maven-plugin"].findtext(f"{POM}version") == "2.16.4.Final"
    assert "@" not in text.replace("@VERSION@", "")  # every placeholder filled


def test_the_url_is_the_confluent_compatible_api_on_loopback() -> None:
    settings = RegistrySettings(port=18555)
    assert settings.url == "http://127.0.0.1:18555/apis/ccompat/v7"
    assert RegistryNode(settings).url == settings.url


def test_without_maven_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_node.shutil, "which", lambda _name: None)
    with pytest.raises(StackError, match="apt-get install -y maven"):
        runner_jar(RegistrySettings(cache_dir=tmp_path))


def test_a_node_that_never_started_is_not_healthy(tmp_path: Path) -> None:
    node = RegistryNode(RegistrySettings(state_dir=tmp_path, port=1))
    assert node.process.pid is None
    assert not node.healthy(timeout_s=0.2)
    assert node.down() is False


def _sleeper(*argv: str) -> subprocess.Popen[bytes]:
    """A real process whose command line ends with `argv` (no JVM needed)."""
    code = "import time; time.sleep(120)"
    return subprocess.Popen([sys.executable, "-c", code, *argv], start_new_session=True)


def test_down_stops_a_registry_the_pid_file_names_without_the_marker(tmp_path: Path) -> None:
    """A registry started before its JVM carried the marker is still stopped by `down`."""
    node = RegistryNode(RegistrySettings(state_dir=tmp_path, port=1))
    legacy = _sleeper("-jar", f"/cache/schema-registry-{node.settings.version}-runner.jar")
    try:
        node.home.mkdir(parents=True)
        node.process.pid_file.write_text(str(legacy.pid))
        assert node.down(timeout_s=5) is True
        legacy.wait(timeout=10)  # raises TimeoutExpired while it still runs
        assert not Path(f"/proc/{legacy.pid}").exists()
        assert not node.process.pid_file.exists()
    finally:
        legacy.kill()
        legacy.wait()


def test_down_spares_another_process_a_stale_pid_file_names(tmp_path: Path) -> None:
    node = RegistryNode(RegistrySettings(state_dir=tmp_path, port=1))
    bystander = _sleeper("something-else.jar")
    try:
        node.home.mkdir(parents=True)
        node.process.pid_file.write_text(str(bystander.pid))
        assert node.down(timeout_s=5) is False
        assert bystander.poll() is None
        assert not node.process.pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()
