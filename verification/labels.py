"""A turn's label from its joined feedback and its session's outcome (docs/labels.md)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TurnLabel", "label_turn"]

_WEIGHTS = {"human_reviewer": 1.5, "end_user": 1.0, "automatic_evaluator": 0.75}
_UNKNOWN_WEIGHT = 0.5
_OUTCOME = {"completed": 0.5, "escalated": -0.5, "failed": -0.5, "abandoned": -0.3}


@dataclass(frozen=True)
class TurnLabel:
    """reward, reward_source, reward_confidence and corrected_response of one turn."""

    reward: float
    reward_source: str
    reward_confidence: float
    corrected_response: str | None


def _score(item: Mapping[str, Any]) -> float | None:
    kind = item.get("kind")
    if kind == "thumbs" and item.get("thumbs_up") is not None:
        return 1.0 if item["thumbs_up"] else -1.0
    if kind == "rating" and item.get("rating") is not None:
        return (int(item["rating"]) - 3) / 2
    if kind == "correction":
        return -1.0
    return None


def _implicit(outcome: str, retried: bool) -> float:
    value = _OUTCOME.get(outcome, 0.0) - (0.5 if retried else 0.0)
    return min(1.0, max(-1.0, value))


def label_turn(feedback: Sequence[Mapping[str, Any]], outcome: str, retried: bool) -> TurnLabel:
    """The label of a turn; `feedback`: its joined feedback in (event_time, event_id) order,
    each flagged `session_level`."""
    weighted = weights = 0.0
    corrected: str | None = None
    for item in feedback:
        if item.get("kind") == "correction" and not item["session_level"] and item["correction"]:
            corrected = item["correction"]
        score = _score(item)
        if score is None:
            continue
        weight = _WEIGHTS.get(str(item.get("source")), _UNKNOWN_WEIGHT)
        if item["session_level"]:
            weight /= 2
        weighted += weight * score
        weights += weight
    implicit = _implicit(outcome, retried)
    if weights > 0:
        reward = 0.8 * (weighted / weights) + 0.2 * implicit
        confidence = min(1.0, 0.5 + 0.25 * weights)
        return TurnLabel(round(reward, 6), "explicit", round(confidence, 6), corrected)
    if outcome in _OUTCOME:
        confidence = 0.2 if outcome == "abandoned" else 0.3
        return TurnLabel(round(implicit, 6), "implicit", confidence, corrected)
    return TurnLabel(0.0, "none", 0.0, corrected)
