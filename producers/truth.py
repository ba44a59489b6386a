"""Ground truth of generated traffic: what really happened, for tests to check against."""

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["GroundTruth", "SessionTruth", "TurnTruth"]


@dataclass
class TurnTruth:
    """One generated turn and its true quality (which real feedback only hints at)."""

    event_id: str
    turn_index: int
    quality: float
    good: bool
    retried: bool = False
    corrected: bool = False


@dataclass
class SessionTruth:
    """One generated session: who served it and how it really ended."""

    session_id: str
    agent_id: str
    agent_version: str
    user_id: str | None
    outcome: str
    turns: list[TurnTruth]
    last_activity_ms: int
    closed_at_ms: int
    closed_by: str | None  # event_id of the terminal signal; None when abandoned (inferred)

    @property
    def agent(self) -> tuple[str, str]:
        return (self.agent_id, self.agent_version)


@dataclass
class GroundTruth:
    """Everything the generator knows; complete once `Traffic.events()` has been consumed."""

    sessions: dict[str, SessionTruth] = field(default_factory=dict)
    bad_records: list[tuple[str, str]] = field(default_factory=list)
    too_late_feedback: set[str] = field(default_factory=set)
    thumbs: dict[str, tuple[str, bool]] = field(default_factory=dict)  # event_id -> (session, up)
    duplicates: int = 0
    events_by_topic: Counter[str] = field(default_factory=Counter)

    def outcome_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """Sessions per (agent_id, agent_version) and outcome."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for session in self.sessions.values():
            per_agent = counts.setdefault(session.agent, {})
            per_agent[session.outcome] = per_agent.get(session.outcome, 0) + 1
        return counts

    def thumbs_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(thumbs up, thumbs down) per agent version, leaving out feedback that came too late."""
        counts: dict[tuple[str, str], list[int]] = {}
        for event_id, (session_id, up) in self.thumbs.items():
            if event_id in self.too_late_feedback:
                continue
            pair = counts.setdefault(self.sessions[session_id].agent, [0, 0])
            pair[0 if up else 1] += 1
        return {agent: (up, down) for agent, (up, down) in counts.items()}

    def interaction_count(self) -> int:
        return sum(len(session.turns) for session in self.sessions.values())

    def good_event_count(self) -> int:
        """Events sent that are not bad records and not duplicates."""
        return sum(self.events_by_topic.values()) - len(self.bad_records) - self.duplicates
