"""Which turns are good enough to imitate, which are bad enough to reject, and the log of
every filter step (rows in, rows out) that goes into the manifest.

The rules read the processor's labels (reward, reward_confidence) and, to stay robust to how
that reward is computed, the raw evidence too: explicit feedback on the turn, retries, tool
failures and the session outcome. See docs/curation.md for each rule and why it is there.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from curation.features import NEGATIVE_OUTCOMES
from curation.labels import LABEL_COLUMN, add_label_probability, precision_threshold
from curation.options import CurationOptions

__all__ = [
    "FilterLog",
    "FilterStep",
    "LabelThresholds",
    "accepted_label",
    "accepted_retry",
    "chosen_label",
    "label_thresholds",
    "rejected_label",
    "sft_filter_steps",
    "with_labels",
]


@dataclass(frozen=True)
class LabelThresholds:
    """The label model's cut-offs of one run: keep an answer at P(good) >= accept; use it as
    a rejected / undesirable answer at P(good) <= reject."""

    accept: float
    reject: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "accept_at_or_above": None if math.isinf(self.accept) else round(self.accept, 6),
            "reject_at_or_below": None if math.isinf(self.reject) else round(self.reject, 6),
        }


def with_labels(turns: pl.DataFrame) -> pl.DataFrame:
    """`turns` with the label model's probability (fitted here when the column is missing)."""
    if LABEL_COLUMN in turns.columns:
        return turns
    return add_label_probability(turns)[0]


def label_thresholds(turns: pl.DataFrame, options: CurationOptions) -> LabelThresholds:
    """The cut-offs that give `options.target_precision` by the model's own estimate."""
    probabilities = turns.get_column(LABEL_COLUMN).to_numpy()
    accept = precision_threshold(probabilities, options.target_precision)
    reject = 1.0 - precision_threshold(1.0 - probabilities, options.target_precision)
    return LabelThresholds(accept, -math.inf if np.isinf(reject) else reject)


def _label_model(thresholds: LabelThresholds | None) -> LabelThresholds:
    if thresholds is None:
        raise ValueError("selection='label_model' needs the thresholds (label_thresholds)")
    return thresholds


@dataclass(frozen=True)
class FilterStep:
    """One filter of a run and what it removed."""

    name: str
    description: str
    rows_in: int
    rows_out: int

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": self.rows_in - self.rows_out,
        }


@dataclass
class FilterLog:
    """Applies named filters in order and records the row count around each."""

    steps: list[FilterStep] = field(default_factory=list)

    def note(self, name: str, description: str, rows_in: int, rows_out: int) -> None:
        self.steps.append(FilterStep(name, description, rows_in, rows_out))

    def apply(
        self, frame: pl.DataFrame, name: str, description: str, keep: pl.Expr
    ) -> pl.DataFrame:
        kept = frame.filter(keep)
        self.note(name, description, frame.height, kept.height)
        return kept

    def apply_all(self, frame: pl.DataFrame, steps: list[tuple[str, str, pl.Expr]]) -> pl.DataFrame:
        """Apply filters in order with one pass: every mask is computed at once, counted as a
        running AND, and the frame is filtered once (cheaper than a copy per step)."""
        if not steps:
            return frame
        masks = frame.select(
            [keep.fill_null(False).alias(f"_step{i}") for i, (_, _, keep) in enumerate(steps)]
        )
        alive = pl.Series([True] * frame.height, dtype=pl.Boolean)
        rows_in = frame.height
        for i, (name, description, _) in enumerate(steps):
            alive = alive & masks.get_column(f"_step{i}")
            rows_out = int(alive.sum())
            self.note(name, description, rows_in, rows_out)
            rows_in = rows_out
        return frame.filter(alive)

    def transform(
        self,
        frame: pl.DataFrame,
        name: str,
        description: str,
        step: Callable[[pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        out = step(frame)
        self.note(name, description, frame.height, out.height)
        return out

    def as_list(self) -> list[dict[str, object]]:
        return [step.as_dict() for step in self.steps]


def _explicit_positive() -> pl.Expr:
    # Session-level praise only vouches for a turn when the session has one turn.
    return pl.col("turn_positive") | (pl.col("session_positive") & (pl.col("session_turns") <= 1))


def accepted_label(options: CurationOptions, thresholds: LabelThresholds | None = None) -> pl.Expr:
    """A turn worth imitating: P(good) at the threshold (label model), or, with
    explicit_praise, high reward, confident, praised explicitly, never contradicted.

    The outcome and tool filters are separate steps (see `sft_filter_steps`); this is the part
    shared by SFT, the chosen side of pairs and KTO's desirable label.
    """
    if options.selection == "label_model":
        return pl.col(LABEL_COLUMN) >= _label_model(thresholds).accept
    keep = (pl.col("reward") >= options.min_reward) & (
        pl.col("reward_confidence") >= options.min_confidence
    )
    if options.require_explicit_positive:
        keep = keep & _explicit_positive()
    if options.drop_contradicted:
        keep = keep & ~(pl.col("turn_negative") | pl.col("session_negative") | pl.col("retried"))
    return keep


def rejected_label(options: CurationOptions, thresholds: LabelThresholds | None = None) -> pl.Expr:
    """A turn to learn against: P(good) at or below the reject threshold (label model); with
    explicit_praise, retried or corrected, or rated bad with a failed tool call; never one
    praised on the turn.

    A retry or a correction is the user saying "this was wrong" with their actions, so it counts
    whatever the reward. A low rating alone does not: when most answers are good, most thumbs
    down are noise (on the generator's traffic, 58% of thumbs-down turns are bad), so a low
    reward counts only when a failed tool call corroborates it.
    """
    if options.selection == "label_model":
        return pl.col(LABEL_COLUMN) <= _label_model(thresholds).reject
    rated_bad = (
        (pl.col("reward") <= options.max_rejected_reward)
        & (pl.col("reward_confidence") >= options.min_confidence)
        & pl.col("turn_negative")
        & pl.col("tool_failed")
    )
    acted_on = pl.col("retried") | pl.col("corrected_response").is_not_null()
    return ~pl.col("turn_positive") & (rated_bad | acted_on)


def accepted_retry(options: CurationOptions, thresholds: LabelThresholds | None = None) -> pl.Expr:
    """A retry good enough to beat the attempt it retried.

    Label model: the SFT rule (P(good) at the threshold). With explicit_praise, `praised`: the
    full SFT rule; `moved_on`: also a retry the user did not retry, with no tool failure and no
    negative feedback, after which the user asked something new and the session completed
    (more pairs, a little less precise; see docs/curation.md).
    """
    rule = chosen_label(options, thresholds)
    if options.selection == "explicit_praise" and options.retry_evidence == "moved_on":
        moved_on = (
            ~pl.col("retried")
            & ~pl.col("tool_failed")
            & ~pl.col("turn_negative")
            & ~pl.col("session_negative")
            & (pl.col("session_outcome") == "completed")
            & (pl.col("turn_index") < pl.col("session_turns") - 1)
        )
        rule = rule | moved_on
    return rule


def chosen_label(options: CurationOptions, thresholds: LabelThresholds | None = None) -> pl.Expr:
    """The full SFT rule on a turn's own answer: the chosen side of pairs, KTO's desirable."""
    keep = accepted_label(options, thresholds)
    if options.selection == "label_model":
        return keep
    if options.completed_only:
        keep = keep & (pl.col("session_outcome") == "completed")
    if options.drop_abandoned_failed:
        keep = keep & ~pl.col("session_outcome").is_in(NEGATIVE_OUTCOMES)
    if options.drop_tool_errors:
        keep = keep & ~pl.col("tool_failed")
    return keep


def _response_only(rule: pl.Expr) -> pl.Expr:
    """Apply a rule to candidates whose answer is the agent's; corrections pass."""
    return (pl.col("target") == "correction") | rule


def sft_filter_steps(
    options: CurationOptions, thresholds: LabelThresholds | None = None
) -> list[tuple[str, str, pl.Expr]]:
    """The SFT filters in order: (name, description, keep expression)."""
    if options.selection == "label_model":
        accept = _label_model(thresholds).accept
        return [
            (
                "label_model",
                f"P(good) >= {accept:.4f}, the threshold the label model expects to give "
                f"precision {options.target_precision} (corrections pass)",
                _response_only(accepted_label(options, thresholds)),
            ),
            (
                "length",
                f"prompt {options.min_prompt_chars}-{options.max_prompt_chars} chars, answer "
                f"{options.min_response_chars}-{options.max_response_chars} chars",
                length_rule(options),
            ),
        ]
    steps: list[tuple[str, str, pl.Expr]] = [
        (
            "label",
            f"reward >= {options.min_reward}, confidence >= {options.min_confidence}"
            + (", explicit praise" if options.require_explicit_positive else "")
            + (", no negative feedback, not retried" if options.drop_contradicted else ""),
            _response_only(accepted_label(options)),
        )
    ]
    if options.completed_only:
        steps.append(
            (
                "completed_sessions",
                "session outcome is completed",
                _response_only(pl.col("session_outcome") == "completed"),
            )
        )
    if options.drop_abandoned_failed:
        steps.append(
            (
                "not_abandoned_failed",
                f"session outcome not in {list(NEGATIVE_OUTCOMES)}",
                _response_only(~pl.col("session_outcome").is_in(NEGATIVE_OUTCOMES)),
            )
        )
    if options.drop_tool_errors:
        steps.append(
            (
                "no_tool_errors",
                "no tool call ended in error or timeout",
                _response_only(~pl.col("tool_failed")),
            )
        )
    steps.append(
        (
            "length",
            f"prompt {options.min_prompt_chars}-{options.max_prompt_chars} chars, answer "
            f"{options.min_response_chars}-{options.max_response_chars} chars",
            length_rule(options),
        )
    )
    return steps


def length_rule(options: CurationOptions, answer_column: str = "target_text") -> pl.Expr:
    """Prompt and answer lengths within the limits (characters)."""
    prompt_len = pl.col("prompt").str.len_chars()
    answer_len = pl.col(answer_column).str.len_chars()
    return prompt_len.is_between(options.min_prompt_chars, options.max_prompt_chars) & (
        answer_len.is_between(options.min_response_chars, options.max_response_chars)
    )
