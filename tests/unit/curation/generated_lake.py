"""An enriched lake built from the traffic generator, with the generator's ground truth.

It stands in for the stream processor and the sink: every turn of the generated traffic becomes
an enriched row whose feedback, signals and outcome come from the generated events, labelled by
the processor's pure label function (`stream_processors.labels.derive_label`) when present,
else by `reference_reward` below (same shape: explicit feedback outweighs implicit signals; a
correction gives corrected_response). Late feedback (after the session closed) produces
revision 1 of the turns, and a share of rows is written twice, as an at-least-once sink might.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producers.traffic import TrafficConfig, generate_traffic
from producers.truth import GroundTruth
from schemas.partitioning import partition_for
from schemas.topics import ENRICHED, FEEDBACK, INTERACTIONS, SIGNALS
from tests.unit.curation.enriched_factory import write_enriched

__all__ = ["GeneratedLake", "build_generated_lake", "enriched_rows", "reference_reward"]

_OUTCOME_SCORE = {"completed": 0.5, "failed": -0.5, "escalated": -0.4, "abandoned": -0.4}
_TERMINAL = {"task_completed", "task_failed", "escalated_to_human"}


@dataclass
class GeneratedLake:
    """Rows written, where, and what really happened."""

    lake_uri: str
    rows: list[dict[str, Any]]
    truth: GroundTruth

    def quality(self, event_id: str) -> float:
        return self._turns()[event_id].quality

    def good(self, event_id: str) -> bool:
        return self._turns()[event_id].good

    def _turns(self) -> dict[str, Any]:
        if not hasattr(self, "_turn_index"):
            self._turn_index = {
                turn.event_id: turn
                for session in self.truth.sessions.values()
                for turn in session.turns
            }
        return self._turn_index


def _feedback_score(item: dict[str, Any]) -> float | None:
    if item["kind"] == "thumbs" and item["thumbs_up"] is not None:
        return 1.0 if item["thumbs_up"] else -1.0
    if item["kind"] == "rating" and item["rating"] is not None:
        return (item["rating"] - 3) / 2
    if item["kind"] == "correction":
        return -1.0
    return None  # comments carry no score here


def reference_reward(
    event_id: str,
    feedback: Sequence[dict[str, Any]],
    signals: Sequence[dict[str, Any]],
    outcome: str,
    tool_failed: bool,
) -> tuple[float, str, float]:
    """(reward, reward_source, confidence) of one turn: the test stand-in for the processor.

    explicit = weighted mean of feedback scores (thumbs +-1, rating (r-3)/2, correction -1;
    turn-level weight 1, session-level 0.5); implicit = outcome score (completed +0.5, failed
    -0.5, escalated/abandoned -0.4) - 0.6 if the turn was retried - 0.2 if a tool failed.
    With explicit feedback: reward = 0.8 explicit + 0.2 implicit, confidence 0.5 + 0.25 x total
    weight (max 1). Without: reward = 0.6 implicit, confidence 0.3.
    """
    weighted = [
        (score, 0.5 if item["session_level"] else 1.0)
        for item in feedback
        if (score := _feedback_score(item)) is not None
    ]
    retried = any(s["kind"] == "retried" and s["interaction_id"] == event_id for s in signals)
    implicit = _OUTCOME_SCORE.get(outcome, 0.0) - (0.6 if retried else 0.0)
    implicit -= 0.2 if tool_failed else 0.0
    implicit = max(-1.0, min(1.0, implicit))
    if weighted:
        total = sum(weight for _, weight in weighted)
        explicit = sum(score * weight for score, weight in weighted) / total
        reward = max(-1.0, min(1.0, 0.8 * explicit + 0.2 * implicit))
        return round(reward, 6), "explicit", min(1.0, 0.5 + 0.25 * total)
    return round(0.6 * implicit, 6), "implicit", 0.3


def label_turn(
    event_id: str,
    feedback: Sequence[dict[str, Any]],
    signals: Sequence[dict[str, Any]],
    outcome: str,
    tool_failed: bool,
) -> tuple[float, str, float]:
    """The stream processor's label function when it is installed, else `reference_reward`."""
    try:
        from stream_processors.labels import derive_label
    except ImportError:
        return reference_reward(event_id, feedback, signals, outcome, tool_failed)
    retried = any(s["kind"] == "retried" and s["interaction_id"] == event_id for s in signals)
    ordered = sorted(feedback, key=lambda f: (f["event_time"], f["event_id"]))
    label = derive_label(ordered, outcome, retried)
    return label.reward, label.source, label.confidence


def enriched_rows(
    config: TrafficConfig, duplicate_every: int = 17
) -> tuple[list[dict[str, Any]], GroundTruth]:
    """Enriched rows (all revisions, some duplicated) of generated traffic, and its truth."""
    traffic = generate_traffic(config)
    interactions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    feedback: dict[str, list[dict[str, Any]]] = defaultdict(list)
    signals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in traffic.events():
        if event.record is None or event.duplicate:
            continue
        by_topic = {INTERACTIONS.name: interactions, FEEDBACK.name: feedback, SIGNALS.name: signals}
        by_topic[event.topic.name][event.record["session_id"]].append(event.record)
    truth = traffic.truth
    rows: list[dict[str, Any]] = []
    offsets: dict[int, int] = defaultdict(int)
    sessions = sorted(truth.sessions.values(), key=lambda s: (s.closed_at_ms, s.session_id))
    for session in sessions:
        session_signals = [_joined_signal(s) for s in signals[session.session_id]]
        if session.outcome == "abandoned":
            session_signals.append(_inferred_abandon(session.session_id, session.closed_at_ms))
        on_time = [
            f for f in feedback[session.session_id] if f["event_id"] not in truth.too_late_feedback
        ]
        late = any(f["event_time"] > session.closed_at_ms for f in on_time)
        revisions = [(0, [f for f in on_time if f["event_time"] <= session.closed_at_ms])]
        if late:
            revisions.append((1, on_time))
        partition = partition_for(session.session_id.encode(), ENRICHED.partitions)
        turns = sorted(interactions[session.session_id], key=lambda r: r["turn_index"])
        for revision, given in revisions:
            for turn in turns:
                row = _row(turn, session, revision, given, session_signals, len(turns))
                row["kafka_partition"] = partition
                row["kafka_offset"] = offsets[partition]
                offsets[partition] += 1
                rows.append(row)
                if duplicate_every and len(rows) % duplicate_every == 0:
                    rows.append(dict(row))  # the sink wrote it twice (at-least-once)
    return rows, truth


def _joined_signal(signal: dict[str, Any]) -> dict[str, Any]:
    return {
        key: signal[key] for key in ("event_id", "event_time", "kind", "source", "interaction_id")
    }


def _inferred_abandon(session_id: str, closed_at: int) -> dict[str, Any]:
    return {
        "event_id": f"abandoned-{session_id}",
        "event_time": closed_at,
        "kind": "abandoned",
        "source": "inferred",
        "interaction_id": None,
    }


def _row(
    turn: dict[str, Any],
    session: Any,
    revision: int,
    given: Iterable[dict[str, Any]],
    session_signals: list[dict[str, Any]],
    session_turns: int,
) -> dict[str, Any]:
    joined = [
        {
            "event_id": f["event_id"],
            "event_time": f["event_time"],
            "kind": f["kind"],
            "thumbs_up": f["thumbs_up"],
            "rating": f["rating"],
            "correction": f["correction"],
            "comment": f["comment"],
            "source": f["source"],
            "rater_id": f["rater_id"],
            "session_level": f["interaction_id"] is None,
        }
        for f in given
        if f["interaction_id"] in (None, turn["event_id"])
    ]
    tool_failed = any(t["status"] in ("error", "timeout") for t in turn["tools_used"])
    reward, source, confidence = label_turn(
        turn["event_id"], joined, session_signals, session.outcome, tool_failed
    )
    corrections = [f["correction"] for f in joined if f["kind"] == "correction" and f["correction"]]
    row = {
        **turn,
        "context": sorted(turn["context"].items()),
        "revision": revision,
        "session_outcome": session.outcome,
        "session_closed_at": session.closed_at_ms,
        "session_turns": session_turns,
        "feedback": joined,
        "signals": session_signals,
        "reward": reward,
        "reward_source": source,
        "reward_confidence": confidence,
        "corrected_response": corrections[-1] if corrections else None,
        "kafka_topic": ENRICHED.name,
        "kafka_timestamp": session.closed_at_ms,
    }
    return row


def build_generated_lake(
    lake_uri: str | Path, config: TrafficConfig, batches: int = 1
) -> GeneratedLake:
    """Write the generated enriched rows to a Delta table (in `batches` appends)."""
    import datetime as dt

    rows, truth = enriched_rows(config)
    for row in rows:
        row["event_date"] = dt.datetime.fromtimestamp(row["event_time"] / 1000, dt.UTC).date()
    size = -(-len(rows) // batches)
    for start in range(0, len(rows), size):
        write_enriched(lake_uri, rows[start : start + size])
    return GeneratedLake(str(lake_uri), rows, truth)
