"""deploy/k8s: valid YAML, valid Kubernetes objects (strict schema, offline), complete wiring."""

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.conftest import ROOT, unknown_variables

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs


def _objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _documents() if d["kind"] == kind}


def test_expected_kinds() -> None:
    kinds = sorted(doc["kind"] for _, doc in _documents())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Deployment",
            "Deployment",
            "Deployment",
            "Deployment",
            "Deployment",
            "Kustomization",
            "Namespace",
            "PersistentVolumeClaim",
            "PersistentVolumeClaim",
            "Service",
            "Service",
        ]
    )
    assert set(_objects("Deployment")) == {
        "feedback-processor",
        "feedback-sink",
        "feedback-dashboard",
        "feedback-gateway",
        "feedback-curate-watch",
        "feedback-monitor",
    }


@pytest.mark.parametrize(
    "path_and_doc",
    [pd for pd in _documents() if pd[1]["kind"] != "Kustomization"],
    ids=lambda pd: f"{pd[0].name}:{pd[1]['kind']}",
)
def test_objects_match_the_kubernetes_schema_strictly(path_and_doc: tuple[Path, Any]) -> None:
    kubernetes_validate.validate(path_and_doc[1], KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_misspelt_field() -> None:
    deployment = yaml.safe_load((K8S / "dashboard.yaml").read_text().split("---")[0])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_deployments_read_the_settings_and_have_probes(commands: set[str]) -> None:
    configmaps = _objects("ConfigMap")
    for name, deployment in _objects("Deployment").items():
        pod = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items()
        )
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["spec"]["containers"]
        assert container["image"] == "agent-feedback-pipeline", name
        assert container["args"][0] in commands, (name, container["args"])
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in configmaps, name
        ports = {port["name"] for port in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in ports, (name, probe)
        scrape_port = pod["metadata"]["annotations"]["prometheus.io/port"]
        assert int(scrape_port) in {port["containerPort"] for port in container["ports"]}


def test_processor_has_two_workers_and_sink_one_writer() -> None:
    deployments = _objects("Deployment")
    assert deployments["feedback-processor"]["spec"]["replicas"] == 2
    sink = deployments["feedback-sink"]["spec"]
    assert sink["replicas"] == 1
    assert sink["strategy"]["type"] == "Recreate"  # never two writers during an update


def test_dashboard_service_targets_the_dashboard() -> None:
    service = _objects("Service")["feedback-dashboard"]
    dashboard = _objects("Deployment")["feedback-dashboard"]
    assert (
        service["spec"]["selector"].items()
        <= dashboard["spec"]["template"]["metadata"]["labels"].items()
    )


def test_every_setting_is_read_by_a_service() -> None:
    (configmap,) = _objects("ConfigMap").values()
    assert unknown_variables(set(configmap["data"])) == []
    assert all(isinstance(value, str) for value in configmap["data"].values())
