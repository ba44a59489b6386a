"""Quality changes over time for generated traffic: one agent version getting worse (or better)
from a given event time, so monitoring can be tested against a drop whose truth is known.

A change is applied where a turn's true quality is drawn (`producers.traffic`): turns of that
version at or after the change's start get the new mean quality. Without changes the generator
draws exactly what it drew before (same random numbers, same bytes).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from producers.traffic import AgentProfile, TrafficConfig

__all__ = ["QualityChange", "parse_quality_change", "quality_at"]

_SPEC = re.compile(
    r"^(?P<agent>[^:@=\s]+):(?P<version>[^@=\s]+)@(?P<start>[0-9.]+)(?P<share>%?)=(?P<quality>[0-9.]+)$"
)


@dataclass(frozen=True)
class QualityChange:
    """From `start_ms` (epoch ms, event time) or `start_share` of the run (0-1 of its expected
    length, sessions / sessions_per_second), agent_id/agent_version's true mean quality is
    `quality`. Exactly one of the two starts is set."""

    agent_id: str
    agent_version: str
    quality: float
    start_ms: int | None = None
    start_share: float | None = None

    def __post_init__(self) -> None:
        if (self.start_ms is None) == (self.start_share is None):
            raise ValueError("a quality change needs exactly one of start_ms and start_share")
        if not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"quality must be within 0-1, got {self.quality}")
        if self.start_share is not None and not 0.0 <= self.start_share <= 1.0:
            raise ValueError(f"start_share must be within 0-1, got {self.start_share}")

    def start_time(self, config: "TrafficConfig") -> int:
        """The event time (epoch ms) from which the change applies in traffic of `config`."""
        if self.start_ms is not None:
            return self.start_ms
        assert self.start_share is not None
        span_ms = config.sessions / config.sessions_per_second * 1000.0
        return config.start_time_ms + int(self.start_share * span_ms)


def quality_at(config: "TrafficConfig", agent: "AgentProfile", time_ms: int) -> float:
    """The true mean quality of `agent`'s turns at `time_ms`: the latest change that started at
    or before it, else the profile's quality."""
    changes: Sequence[QualityChange] = config.quality_changes
    quality, since = agent.quality, None
    for change in changes:
        if (change.agent_id, change.agent_version) != (agent.agent_id, agent.agent_version):
            continue
        start = change.start_time(config)
        if start <= time_ms and (since is None or start >= since):
            quality, since = change.quality, start
    return quality


def parse_quality_change(text: str) -> QualityChange:
    """`AGENT:VERSION@START=QUALITY`, START an epoch-ms event time or a share of the run in
    percent (`support-bot:1.4.0@50%=0.5`: from half-way, mean quality 0.5)."""
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(
            f"quality change {text!r}: expected AGENT:VERSION@START=QUALITY, START epoch ms "
            "or a percentage of the run (support-bot:1.4.0@50%=0.5)"
        )
    start, quality = match["start"], float(match["quality"])
    if match["share"]:
        return QualityChange(
            match["agent"], match["version"], quality, start_share=float(start) / 100.0
        )
    return QualityChange(match["agent"], match["version"], quality, start_ms=int(float(start)))
