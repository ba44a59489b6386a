"""Live monitoring checked against the generator's truth, without Kafka: traffic of a regime
(with or without a quality change) through the batch reference's metric windows into the
`LiveMonitor`, and its alerts scored as false or detecting, with the delay in windows.

Used by the monitoring tests and `benchmarks/monitor_detection.py`; the figures of
docs/monitoring.md come from it.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from curation.monitoring.live import LiveMonitor, Verdict
from curation.monitoring.live_rules import LiveRules
from producers.drift import QualityChange
from producers.regimes import regime_config
from producers.traffic import TrafficConfig, generate_traffic
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS
from verification.reference import ReferenceConfig, expected_results

__all__ = ["DetectionRun", "drifted", "monitor_traffic", "regime_traffic", "rules_for"]

_KINDS = {INTERACTIONS.name: "interaction", FEEDBACK.name: "feedback", SIGNALS.name: "signal"}


@dataclass
class DetectionRun:
    """What the monitor said about one run, scored against the quality change (if any)."""

    config: TrafficConfig
    window_ms: int
    verdicts: list[Verdict] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    false_alerts: list[dict[str, Any]] = field(default_factory=list)
    drop_window_start: int | None = None
    # Windows from the first window of the drop to the compared window of the first alert
    # naming the changed version (0: that window itself), None if none named it.
    detection_delay_windows: int | None = None
    first_detection: dict[str, Any] | None = None
    windows: int = 0

    @property
    def tested(self) -> int:
        return sum(1 for v in self.verdicts if not v.reason)


def rules_for(config: TrafficConfig, **overrides: Any) -> LiveRules:
    """Rules whose outcome maturity matches the traffic's abandonment timeout."""
    values: dict[str, Any] = {"completion_maturity_s": config.abandon_after_s + 60.0}
    values.update(overrides)
    return LiveRules(**values)


def monitor_traffic(
    config: TrafficConfig, rules: LiveRules | None = None, window_ms: int = 60_000
) -> DetectionRun:
    """Generate `config`'s traffic, compute its final metric windows with the batch reference,
    feed them to a LiveMonitor in the order the processor finalises them, and score."""
    traffic = generate_traffic(config)
    events = [
        {"kind": _KINDS[e.topic.name], "record": e.record, "topic": e.topic.name, "offset": i}
        for i, e in enumerate(traffic.events())
        if e.record is not None
    ]
    reference = ReferenceConfig(
        abandon_after_ms=int(config.abandon_after_s * 1000),
        grace_ms=int(config.feedback_grace_s * 1000),
        window_ms=window_ms,
    )
    metrics = expected_results(events, reference).metrics
    monitor = LiveMonitor(rules or rules_for(config))
    run = DetectionRun(config, window_ms)
    # The finalizer publishes windows as the watermark passes them: by end, then by key.
    for key in sorted(metrics, key=lambda k: (k[2], k[0], k[1])):
        run.verdicts += monitor.add(metrics[key].record)
    run.windows = len({key[2] for key in metrics})
    _score(run)
    return run


def _score(run: DetectionRun) -> None:
    changes = run.config.quality_changes
    changed = {(c.agent_id, c.agent_version): c.start_time(run.config) for c in changes}
    if changes:
        first = min(changed.values())
        run.drop_window_start = first - first % run.window_ms
    for verdict in run.verdicts:
        if verdict.alert is None:
            continue
        run.alerts.append(verdict.alert)
        start = changed.get(verdict.agent)
        # True only if it names a changed version and its evidence reaches past the change.
        if start is None or verdict.evidence[1] <= start:
            run.false_alerts.append(verdict.alert)
            continue
        if run.drop_window_start is not None:
            delay = math.floor(
                (verdict.window_start - start + start % run.window_ms) / run.window_ms
            )
            if run.detection_delay_windows is None or delay < run.detection_delay_windows:
                run.detection_delay_windows = delay
                run.first_detection = verdict.alert


def drifted(config: TrafficConfig, change: QualityChange) -> TrafficConfig:
    """The same traffic with one quality change added."""
    return TrafficConfig(
        **{**config.__dict__, "quality_changes": (*config.quality_changes, change)}
    )


def regime_traffic(regime: str, **overrides: Any) -> TrafficConfig:
    """The monitoring runs' traffic of a regime (overrides win)."""
    return regime_config(regime, **overrides)
