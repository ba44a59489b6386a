"""Thresholds of live monitoring (`feedbackctl monitor follow`); each is recorded in the alerts."""

from pydantic import Field

from curation.monitoring.rule_types import Count, Delay, Rules, Seconds, Share

__all__ = ["LiveRules"]


class LiveRules(Rules):
    """When a matured metric window is compared, against what, and how sure a drop must be.

    Maturity: the evidence about a window's turns lands in later windows (a session's outcome
    when it closes, feedback when it is given). A window is compared once the windows up to its
    maturity delay are final; its evidence is the pooled counts of those windows.
    """

    completion_maturity_s: Seconds = 660.0
    """Delay before session outcomes of a window count: the processor's abandon_after_s plus
    the time a terminal signal may take (60 s)."""
    tool_errors_maturity_s: Delay = 0.0
    """Delay before tool errors of a window's turns count: none, they arrive with the turn and
    count in its window."""
    thumbs_maturity_s: Seconds = 900.0
    """Delay before thumbs and ratings on a window's turns count."""
    corrections_maturity_s: Seconds = 3600.0
    """Delay before corrections on a window's turns count."""
    live_reference_s: Seconds = 3600.0
    """Reference: matured evidence before the window, s."""
    reference_gap_s: Delay = 300.0
    """Gap between the reference and the compared window, s: a drop is compared against
    evidence from before it for at least this long. The evidence of a window may also pool the
    windows of this gap (a change that began a few windows before it)."""
    min_reference_trials: Count = 100
    """Fewest sessions / tool calls / thumbs / feedback in the reference."""
    min_current_trials: Count = 30
    """Fewest sessions / tool calls / thumbs / feedback in the evidence."""
    min_effect: Share = 0.05
    """Smallest change of a rate worth an alert."""
    min_relative_effect: float = Field(default=0.3, ge=0)
    """Or a change of this share of the reference's rate (a 6% completion rate falling to 4%
    counts as much as 60% falling to 55%)."""
    min_rating_drop: float = Field(default=0.25, ge=0)
    """Smallest drop of the mean rating worth an alert."""
    family_alpha: float = Field(default=0.01, gt=0, lt=1)
    """Chance of any false alert over `horizon_s`, all versions, signals, windows and evidence
    spans together (Bonferroni)."""
    horizon_s: Seconds = 86_400.0
    """Time over which family_alpha holds, s."""
    min_volume_ratio: Share = 0.25
    """No verdict while a window of the evidence holds fewer turns than this share of the
    reference's mean (traffic starting, stopping or rerouted)."""
