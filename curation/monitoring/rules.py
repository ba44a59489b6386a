"""Thresholds of the feedback-quality checks; each is recorded in the alert it raises."""

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MonitorRules"]


class MonitorRules(BaseModel):
    """When a check raises an alert. Checks with fewer samples than their minimum stay quiet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: int = Field(default=3600, ge=1, description="Current window (event time), seconds.")
    reference_s: int = Field(
        default=86_400, ge=1, description="Reference window before it, seconds."
    )
    maturity_s: int = Field(
        default=3600,
        ge=0,
        description="Without --until, the current window ends this long before the newest "
        "turn: its turns' late feedback has arrived.",
    )
    min_coverage: float = Field(
        default=0.05, ge=0, le=1, description="Lowest share of turns with explicit feedback."
    )
    min_turns_for_coverage: int = Field(default=200, ge=1)
    min_agreement: float = Field(
        default=0.5, ge=0, le=1, description="Lowest explicit/implicit agreement (share of turns)."
    )
    min_turns_for_agreement: int = Field(default=50, ge=1)
    max_psi: float = Field(
        default=0.2,
        ge=0,
        description="Highest population stability index of the feedback distribution.",
    )
    min_feedback_for_drift: int = Field(default=80, ge=1, description="In each of the two windows.")
    max_regression_drop: float = Field(
        default=0.1, ge=0, le=1, description="Largest drop of a version's positive-feedback rate."
    )
    min_regression_z: float = Field(
        default=3.0, ge=0, description="Two-proportion z-score a drop must also reach."
    )
    min_feedback_for_regression: int = Field(default=50, ge=1)
    max_rater_feedback: int = Field(
        default=100, ge=1, description="Most feedback one rater may give in the window."
    )
    max_rater_duplicate_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Largest share of a rater's feedback that repeats itself.",
    )
    min_rater_feedback_for_spam: int = Field(default=20, ge=1)
