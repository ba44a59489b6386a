"""Choosing the threshold that reaches a target precision, and what the model expects of the
selection (precision and recall with intervals).

The model's probabilities are taken at their word: the expected precision of a set is the mean
of its probabilities, the expected number of good turns is their sum. The intervals are those
of a sum of independent Bernoulli draws (normal approximation); they do not include the
model's own error, which docs/labels.md measures per traffic regime.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SelectionEstimate", "estimate_selection", "precision_threshold"]

_Z = 1.96  # 95% intervals
_MEAN_TOLERANCE = 1e-12


def precision_threshold(probabilities: np.ndarray, target: float) -> float:
    """The lowest probability of the largest set, taken best first, whose mean probability is
    at least `target`; +inf when not even the best turn reaches it (nothing is kept)."""
    if probabilities.size == 0:
        return math.inf
    ordered = np.sort(probabilities)[::-1]
    running = np.cumsum(ordered) / np.arange(1, ordered.size + 1)
    # Only the end of a run of equal probabilities is a possible cut: `>= cut` keeps them all.
    group_end = np.append(ordered[1:] != ordered[:-1], True)
    # The running mean of equal values can land an ulp below them (three turns at 0.95 average
    # 0.9499999999999998): a tolerance far below any probability's resolution keeps them.
    reaching = np.nonzero((running >= target - _MEAN_TOLERANCE) & group_end)[0]
    if reaching.size == 0:
        return math.inf
    return float(ordered[reaching[-1]])


@dataclass(frozen=True)
class SelectionEstimate:
    """Expected precision of the selected rows and recall of all good turns, with intervals."""

    rows: int
    precision: float
    precision_interval: tuple[float, float]
    recall: float
    recall_interval: tuple[float, float]
    expected_good_turns: float

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "estimated_precision": round(self.precision, 4),
            "estimated_precision_95": [round(x, 4) for x in self.precision_interval],
            "estimated_recall": round(self.recall, 4),
            "estimated_recall_95": [round(x, 4) for x in self.recall_interval],
            "expected_good_turns": round(self.expected_good_turns, 1),
        }


def _clip(low: float, high: float) -> tuple[float, float]:
    return (max(0.0, low), min(1.0, high))


def estimate_selection(
    selected: np.ndarray, all_turns: np.ndarray, certain_rows: int = 0
) -> SelectionEstimate:
    """Estimates for rows with probabilities `selected` plus `certain_rows` taken as good
    (corrections: a person's answer), out of turns with probabilities `all_turns`.

    Recall counts the agents' own answers only: selected good answers / all good answers.
    """
    rows = int(selected.size) + certain_rows
    kept = float(selected.sum())
    kept_var = float((selected * (1 - selected)).sum())
    total = float(all_turns.sum())
    total_var = float((all_turns * (1 - all_turns)).sum())
    precision = (kept + certain_rows) / rows if rows else 0.0
    spread = _Z * math.sqrt(kept_var) / rows if rows else 0.0
    recall = kept / total if total else 0.0
    # Delta method for kept / (kept + rest), kept and rest independent sums.
    rest, rest_var = total - kept, max(total_var - kept_var, 0.0)
    recall_sd = math.sqrt(rest**2 * kept_var + kept**2 * rest_var) / total**2 if total else 0.0
    return SelectionEstimate(
        rows=rows,
        precision=precision,
        precision_interval=_clip(precision - spread, precision + spread),
        recall=recall,
        recall_interval=_clip(recall - _Z * recall_sd, recall + _Z * recall_sd),
        expected_good_turns=total,
    )
