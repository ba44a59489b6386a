"""Session observations straight from generated traffic and its ground truth.

What the lake's enriched turns give `observations_from_turns`, without a lake: outcomes from
the ground truth, feedback that came in time joined to its session (turn-level corrections to
their turn). Fast enough to compare dozens of seeded runs in a unit test.
"""

from collections import defaultdict
from typing import Any

from curation.impact import SessionObservation
from producers.traffic import AgentProfile, TrafficConfig, generate_traffic
from producers.truth import GroundTruth
from schemas.topics import FEEDBACK, INTERACTIONS

__all__ = ["release_config", "sessions_from_traffic", "true_completion_difference"]


def release_config(
    baseline_quality: float, candidate_quality: float, sessions: int, seed: int
) -> TrafficConfig:
    """Traffic of one agent served half by 1.4.0 and half by 1.5.0, over the same time span."""
    return TrafficConfig(
        sessions=sessions,
        seed=seed,
        max_turns=2,
        feedback_share=0.5,
        agents=(
            AgentProfile("support-bot", "1.4.0", "acme-llm-large", "support", baseline_quality),
            AgentProfile("support-bot", "1.5.0", "acme-llm-large", "support", candidate_quality),
        ),
    )


def sessions_from_traffic(config: TrafficConfig) -> tuple[list[SessionObservation], GroundTruth]:
    """One observation per generated session, and the generator's ground truth."""
    traffic = generate_traffic(config)
    turns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    feedback: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in traffic.events():
        if event.record is None or event.duplicate:
            continue
        if event.topic.name == INTERACTIONS.name:
            turns[event.record["session_id"]].append(event.record)
        elif event.topic.name == FEEDBACK.name:
            feedback[event.record["session_id"]].append(event.record)
    truth = traffic.truth
    sessions = []
    for session_id, session in truth.sessions.items():
        given = [f for f in feedback[session_id] if f["event_id"] not in truth.too_late_feedback]
        corrected = {f["interaction_id"] for f in given if f["kind"] == "correction"}
        records = sorted(turns[session_id], key=lambda r: r["turn_index"])
        sessions.append(
            SessionObservation(
                session_id=session_id,
                agent_id=session.agent_id,
                agent_version=session.agent_version,
                started_ms=records[0]["event_time"],
                outcome=session.outcome,
                turn_latencies_ms=tuple(float(r["latency_ms"]) for r in records),
                turn_corrected=tuple(r["event_id"] in corrected for r in records),
                cost_usd=sum(r["cost_usd"] for r in records),
                thumbs=tuple(f["thumbs_up"] for f in given if f["kind"] == "thumbs"),
                ratings=tuple(f["rating"] for f in given if f["kind"] == "rating"),
            )
        )
    return sessions, truth


def true_completion_difference(config: TrafficConfig, sessions: int) -> float:
    """The candidate's completion rate minus the baseline's in the ground truth of a population
    `sessions` large (other seed): what the generator really makes of the two qualities."""
    truth = generate_traffic(
        TrafficConfig(**{**config.__dict__, "sessions": sessions, "seed": config.seed + 10_007})
    )
    for _ in truth.events():
        pass
    rates = {}
    for version in ("1.4.0", "1.5.0"):
        outcomes = [s.outcome for s in truth.truth.sessions.values() if s.agent_version == version]
        rates[version] = outcomes.count("completed") / len(outcomes)
    return rates["1.5.0"] - rates["1.4.0"]
