"""The Grafana dashboard and the Prometheus alerting rules in deploy/ load, and every query in them
is valid PromQL (checked by `promtool check rules`) over series that docs/observability.md lists
(tests/integration/test_prometheus_endpoints.py checks those exist in the real processes)."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "feedback-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "feedback-pipeline.json"
OBSERVABILITY = ROOT / "docs" / "observability.md"
SERIES = re.compile(r"\bfeedback_[a-z0-9_]*[a-z0-9]\b")
# Suffixes Prometheus derives from a documented family name.
DERIVED = ("_total", "_bucket", "_sum", "_count")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run scripts/install-system-deps.sh (Debian: prometheus)")
    return path


def check_rules(path: Path) -> str:
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def documented_series() -> set[str]:
    """Series names in docs/observability.md's tables (first column)."""
    names = set()
    for line in OBSERVABILITY.read_text().splitlines():
        if line.startswith("| `feedback_"):
            names.add(line.split("`")[1])
    return names


def family_of(name: str) -> str:
    for suffix in DERIVED:
        if name.endswith(suffix) and name.removesuffix(suffix) in documented_series():
            return name.removesuffix(suffix)
    return name


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_alerting_rules() -> None:
    output = check_rules(RULES)
    assert f"SUCCESS: {len(alert_rules())} rules found" in output


def test_every_alert_has_a_severity_and_a_summary() -> None:
    rules = alert_rules()
    assert len(rules) >= 5
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_promtool_accepts_every_dashboard_query(tmp_path: Path) -> None:
    """Grafana's `$__rate_interval` is substituted as Grafana would, then each query is
    checked as a recording rule."""
    exprs = [e.replace("$__rate_interval", "1m") for e in dashboard_exprs()]
    records = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]
    rules = {"groups": [{"name": "dashboard", "rules": records}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(exprs)} rules found" in check_rules(path)


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["targets"], panel["title"]


def test_queries_use_only_documented_series() -> None:
    documented = documented_series()
    assert "feedback_processor_watermark_timestamp_seconds" in documented
    used = {
        family_of(name)
        for expr in [*dashboard_exprs(), *(rule["expr"] for rule in alert_rules())]
        for name in SERIES.findall(expr)
    }
    assert used and used <= documented, sorted(used - documented)
