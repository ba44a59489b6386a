"""The derived reward of one turn (formula documented in docs/labels.md).

Explicit feedback outweighs implicit signals: with any scored explicit feedback the reward is
`0.8 * explicit + 0.2 * implicit`; without, it is the implicit score alone, with low confidence.
A correction scores -1 and its text becomes the corrected target.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["Label", "derive_label", "explicit_score", "implicit_score"]

SOURCE_WEIGHT = {"human_reviewer": 1.5, "end_user": 1.0, "automatic_evaluator": 0.75}
SESSION_LEVEL_FACTOR = 0.5
OUTCOME_SCORE = {
    "completed": 0.5,
    "escalated": -0.5,
    "failed": -0.5,
    "abandoned": -0.3,
}
RETRIED_PENALTY = -0.5
EXPLICIT_SHARE = 0.8


class Label(NamedTuple):
    """Immutable; a named tuple because one is built per enriched record (a frozen dataclass
    took twice as long to build)."""

    reward: float
    source: str  # explicit | implicit | none
    confidence: float
    corrected_response: str | None


def _score(feedback: dict[str, Any]) -> float | None:
    kind = feedback.get("kind")
    if kind == "thumbs" and feedback.get("thumbs_up") is not None:
        return 1.0 if feedback["thumbs_up"] else -1.0
    if kind == "rating" and feedback.get("rating") is not None:
        return (min(5, max(1, int(feedback["rating"]))) - 3) / 2.0
    if kind == "correction":
        return -1.0
    return None  # comments carry no score


def explicit_score(feedback: Sequence[dict[str, Any]]) -> tuple[float, float] | None:
    """(weighted mean score in [-1, 1], total weight) of the scored feedback, or None."""
    total = weight_sum = 0.0
    for item in feedback:
        score = _score(item)
        if score is None:
            continue
        weight = SOURCE_WEIGHT.get(item.get("source", ""), 0.5)
        if item.get("session_level"):
            weight *= SESSION_LEVEL_FACTOR
        total += weight * score
        weight_sum += weight
    if weight_sum == 0:
        return None
    return total / weight_sum, weight_sum


def implicit_score(outcome: str, retried: bool) -> float:
    """Session outcome score, minus a penalty when the user asked this turn again."""
    score = OUTCOME_SCORE.get(outcome, 0.0) + (RETRIED_PENALTY if retried else 0.0)
    return max(-1.0, min(1.0, score))


def derive_label(feedback: Sequence[dict[str, Any]], outcome: str, retried: bool) -> Label:
    """Reward, its source, confidence and corrected target of one turn.

    `feedback` is the turn's joined feedback (session-level items flagged `session_level`),
    sorted by (event_time, event_id); the latest turn-level correction is the target.
    """
    implicit = implicit_score(outcome, retried)
    corrected = None
    for item in feedback:
        if (
            item.get("kind") == "correction"
            and item.get("correction")
            and not item.get("session_level")
        ):
            corrected = item["correction"]
    explicit = explicit_score(feedback)
    if explicit is not None:
        score, weight = explicit
        reward = EXPLICIT_SHARE * score + (1 - EXPLICIT_SHARE) * implicit
        confidence = min(1.0, 0.5 + 0.25 * weight)
        return Label(_round(reward), "explicit", _round(confidence), corrected)
    if outcome in OUTCOME_SCORE:
        confidence = 0.3 if outcome != "abandoned" else 0.2
        return Label(_round(implicit), "implicit", confidence, corrected)
    return Label(0.0, "none", 0.0, corrected)


def _round(value: float) -> float:
    # Fixed precision keeps records byte-identical whatever the float summation order.
    return round(value, 6)
