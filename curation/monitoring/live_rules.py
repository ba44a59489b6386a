"""Thresholds of live monitoring (`feedbackctl monitor follow`); each is recorded in the alerts."""

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LiveRules"]


class LiveRules(BaseModel):
    """When a matured metric window is compared, against what, and how sure a drop must be.

    Maturity: the evidence about a window's turns lands in later windows (a session's outcome
    when it closes, feedback when it is given). A window is compared once the windows up to its
    maturity delay are final; its evidence is the pooled counts of those windows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    completion_maturity_s: float = Field(
        default=660.0,
        gt=0,
        description="Delay before session outcomes of a window count: the processor's "
        "abandon_after_s plus the time a terminal signal may take (60 s).",
    )
    thumbs_maturity_s: float = Field(
        default=900.0, gt=0, description="Delay before thumbs on a window's turns count."
    )
    corrections_maturity_s: float = Field(
        default=3600.0, gt=0, description="Delay before corrections on a window's turns count."
    )
    live_reference_s: float = Field(
        default=3600.0, gt=0, description="Reference: matured evidence before the window, s."
    )
    reference_gap_s: float = Field(
        default=300.0,
        ge=0,
        description="Gap between the reference and the compared window, s: a drop is compared "
        "against evidence from before it for at least this long.",
    )
    min_reference_trials: int = Field(
        default=100, ge=1, description="Fewest sessions / thumbs / feedback in the reference."
    )
    min_current_trials: int = Field(
        default=30, ge=1, description="Fewest sessions / thumbs / feedback in the evidence."
    )
    min_effect: float = Field(
        default=0.05, ge=0, le=1, description="Smallest change of a rate worth an alert."
    )
    min_relative_effect: float = Field(
        default=0.3,
        ge=0,
        description="Or a change of this share of the reference's rate (a 6% completion rate "
        "falling to 4% counts as much as 60% falling to 55%).",
    )
    min_rating_drop: float = Field(
        default=0.25, ge=0, description="Smallest drop of the mean rating worth an alert."
    )
    family_alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Chance of any false alert over `horizon_s`, all versions and signals "
        "together (Bonferroni).",
    )
    horizon_s: float = Field(
        default=86_400.0, gt=0, description="Time over which family_alpha holds, s."
    )
    min_volume_ratio: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="No verdict while a window of the evidence holds fewer turns than this "
        "share of the reference's mean (traffic starting, stopping or rerouted).",
    )
