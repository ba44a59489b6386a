"""Thresholds of the feedback-quality checks; each is recorded in the alert it raises."""

from pydantic import Field

from curation.monitoring.rule_types import Count, Rules, Share

__all__ = ["MonitorRules"]


class MonitorRules(Rules):
    """When a check raises an alert. Checks with fewer samples than their minimum stay quiet."""

    window_s: int = Field(default=3600, ge=1)
    """Current window (event time), seconds."""
    reference_s: int = Field(default=86_400, ge=1)
    """Reference window before it, seconds."""
    maturity_s: int = Field(default=3600, ge=0)
    """Without --until, the current window ends this long before the newest turn: its turns'
    late feedback has arrived."""
    min_coverage: Share = 0.05
    """Lowest share of turns with explicit feedback."""
    min_turns_for_coverage: Count = 200
    min_agreement: Share = 0.5
    """Lowest explicit/implicit agreement (share of turns)."""
    min_turns_for_agreement: Count = 50
    max_psi: float = Field(default=0.2, ge=0)
    """Highest population stability index of the feedback distribution."""
    min_feedback_for_drift: Count = 80
    """In each of the two windows."""
    max_regression_drop: Share = 0.1
    """Largest drop of a version's positive-feedback rate."""
    min_regression_z: float = Field(default=3.0, ge=0)
    """Two-proportion z-score a drop must also reach."""
    min_feedback_for_regression: Count = 50
    max_rater_feedback: Count = 100
    """Most feedback one rater may give in the window."""
    max_rater_duplicate_share: Share = 0.3
    """Largest share of a rater's feedback that repeats itself."""
    min_rater_feedback_for_spam: Count = 20
