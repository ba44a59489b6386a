"""Live monitoring end to end, real processes only: the SDK sends generated traffic in which
one agent version's true quality drops by 0.3; the processor publishes metric windows;
`feedbackctl monitor follow` compares them as they mature and publishes an alert to the
alerts topic; `feedbackctl dashboard` shows it on its API -- all while the traffic still flows.
"""

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from curation.monitoring.alerts import read_alerts
from producers.drift import QualityChange
from schemas.topics import ALERTS
from tests.e2e.pipeline_harness import (
    BackgroundProducer,
    Pipeline,
    ServiceRunner,
    free_port,
    scenario_traffic,
)
from tests.e2e.pipeline_harness.workload import WINDOW_MS

DROPPED = ("support-bot", "1.5.0")
SESSIONS = 12_000  # 600 s of event time at the generator's 20 sessions/s
DROP_AT = 0.5  # 300 s in: after warm-up (120 s), the reference gap (60 s) and a reference
RATE = 700.0  # events/s of wall clock: the traffic lasts ~2 minutes
# The processor of the harness: abandonment after 60 s, 10 s windows; feedback within 60 s.
MONITOR_ENV = {
    "FEEDBACK_MONITOR_COMPLETION_MATURITY_S": "120",
    "FEEDBACK_MONITOR_THUMBS_MATURITY_S": "60",
    "FEEDBACK_MONITOR_CORRECTIONS_MATURITY_S": "60",
    "FEEDBACK_MONITOR_LIVE_REFERENCE_S": "300",
    "FEEDBACK_MONITOR_REFERENCE_GAP_S": "60",
}


def _dashboard_alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/metrics?range=all", timeout=5) as response:
        return list(json.loads(response.read())["alerts"])


def _wait_healthy(url: str, runner: ServiceRunner, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert runner.alive(), f"dashboard exited: {runner.log_tail()}"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"dashboard not healthy after {timeout_s} s: {runner.log_tail()}")


def test_a_quality_drop_is_alerted_and_shown_while_traffic_flows(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    base = scenario_traffic(SESSIONS, seed=23)
    quality = next(a.quality for a in base.agents if (a.agent_id, a.agent_version) == DROPPED)
    change = QualityChange(*DROPPED, quality - 0.3, start_share=DROP_AT)
    config = scenario_traffic(SESSIONS, seed=23, quality_changes=(change,))
    drop_start = change.start_time(config)
    pipeline.match_traffic(config)
    pipeline.start_processor()
    port = free_port()
    common = {"FEEDBACK_BOOTSTRAP_SERVERS": pipeline.bootstrap}
    monitor = ServiceRunner(
        "monitor",
        ["monitor", "follow", "--namespace", pipeline.namespace],
        {**common, **MONITOR_ENV},
        pipeline.log_dir / "monitor.log",
    )
    dashboard = ServiceRunner(
        "dashboard",
        ["dashboard", "--port", str(port), "--namespace", pipeline.namespace],
        {
            **common,
            "FEEDBACK_DASHBOARD_GROUP_ID": f"dashboard-{pipeline.namespace}",
            "FEEDBACK_DASHBOARD_LOOKBACK_S": "86400",
        },
        pipeline.log_dir / "dashboard.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, dashboard)
        pipeline.wait_ready()
        producer = BackgroundProducer(
            config, pipeline.bootstrap, pipeline.namespace, pipeline.spool_dir, rate=RATE
        )
        pipeline.producers.append(producer)
        shown: list[dict[str, Any]] = []
        while producer.running() and not shown:
            assert monitor.alive(), f"monitor exited: {monitor.log_tail()}"
            shown = [a for a in _dashboard_alerts(url) if a["agent_version"] == DROPPED[1]]
            time.sleep(0.5)
        assert shown, (
            "no alert naming the dropped version reached the dashboard while traffic flowed; "
            f"monitor log:\n{monitor.log_tail()}"
        )
        assert producer.running(), "the alert must arrive while events are still being sent"
        alert = shown[0]
        assert alert["agent_id"] == DROPPED[0] and f"{DROPPED[0]} {DROPPED[1]}" in alert["message"]
        evidence = alert["evidence"]
        assert evidence["evidence_end"] > drop_start  # its evidence reaches into the drop
        assert evidence["p_value"] < evidence["alpha"]
        assert evidence["interval_low"] <= evidence["effect"] <= evidence["interval_high"]
        # worse: tool errors and corrections rise, every other rate and the rating fall
        rising = alert["metric"] in ("live_tool_error_rate", "live_correction_share")
        assert evidence["effect"] > 0 if rising else evidence["effect"] < 0, alert["message"]
        print(f"first alert on the dashboard: {alert['message']}")
        produced = producer.result(timeout_s=300)
        assert produced.report is not None
        # the alert is on the alerts topic, and nothing else was alerted
        published = read_alerts(pipeline.bootstrap, ALERTS.in_namespace(pipeline.namespace))
        assert alert["alert_id"] in {a["alert_id"] for a in published}
        assert {(a["agent_id"], a["agent_version"]) for a in published} == {DROPPED}
        # the earliest window alerted: within 2 windows of the drop's first window (each signal
        # compares a window once it matured; thumbs mature first, outcomes 60 s later)
        first_dropped = drop_start - drop_start % WINDOW_MS
        earliest = min(published, key=lambda a: a["window_start"])
        delay = (earliest["window_start"] - first_dropped) // WINDOW_MS
        print(f"earliest window alerted, {delay} windows after the drop's: {earliest['message']}")
        assert delay <= 2, earliest["message"]
    finally:
        monitor.stop()
        dashboard.stop()
