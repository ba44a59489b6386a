"""The knobs of a curation run: label thresholds, filters, dedup, lengths and the split.

Every option is recorded in the dataset manifest, so a dataset says exactly how it was made.
The defaults are the ones that reach the quality targets on the traffic generator's ground
truth (see docs/curation.md, "Thresholds").
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CurationOptions", "DedupMode", "ExampleUnit", "RetryEvidence", "SelectionRule"]

SelectionRule = Literal["label_model", "explicit_praise"]
DedupMode = Literal["none", "exact", "near"]
ExampleUnit = Literal["turn", "session"]
RetryEvidence = Literal["praised", "moved_on"]


class CurationOptions(BaseModel):
    """How turns are selected, labelled, cleaned and split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Which turns are good enough: the label model at a target precision (default), or the
    # explicit-praise rules below (`selection="explicit_praise"`).
    selection: SelectionRule = Field(
        default="label_model",
        description="label_model: keep turns whose P(good) clears the threshold that gives "
        "target_precision; explicit_praise: the reward, praise and outcome rules below.",
    )
    target_precision: float = Field(
        default=0.97,
        gt=0,
        le=1,
        description="label_model: the expected share of good answers among the agents' own "
        "answers kept (SFT, chosen side of pairs, KTO desirable) and of bad ones among "
        "rejected sides and KTO undesirable.",
    )
    # explicit_praise: a turn is "accepted" (SFT, chosen, KTO desirable) only with enough evidence.
    min_reward: float = Field(
        default=0.5, ge=-1, le=1, description="Lowest reward of an accepted turn."
    )
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Lowest reward_confidence of an accepted turn."
    )
    max_rejected_reward: float = Field(
        default=-0.3, ge=-1, le=1, description="Highest reward of a rejected / undesirable turn."
    )
    require_explicit_positive: bool = Field(
        default=True,
        description="Accept only turns praised explicitly (thumbs up or rating >= 4 on the turn, "
        "or on a one-turn session): implicit signals alone are too weak to imitate.",
    )
    completed_only: bool = Field(
        default=True, description="Accept turns of completed sessions only."
    )
    drop_abandoned_failed: bool = Field(
        default=True, description="Never accept turns of abandoned, failed or escalated sessions."
    )
    drop_tool_errors: bool = Field(
        default=True, description="Never accept turns with a failed tool call."
    )
    drop_contradicted: bool = Field(
        default=True,
        description="Never accept a turn with negative explicit feedback or that the user retried.",
    )
    include_corrections: bool = Field(
        default=True,
        description="SFT: a corrected turn yields an example whose answer is the correction.",
    )
    # Cleaning.
    dedup: DedupMode = Field(
        default="near", description="none, exact (same text) or near (normalized)."
    )
    scrub_pii: bool = Field(
        default=True, description="Replace emails, phones, API keys, card numbers."
    )
    min_prompt_chars: int = Field(default=2, ge=0)
    max_prompt_chars: int = Field(default=8_000, ge=1)
    min_response_chars: int = Field(default=2, ge=0)
    max_response_chars: int = Field(default=8_000, ge=1)
    max_history_turns: int = Field(default=8, ge=0, description="Earlier turns kept as context.")
    retry_evidence: RetryEvidence = Field(
        default="praised",
        description="Which retries beat the attempt they retried: praised (SFT rule) or "
        "moved_on (also unpraised retries the user moved on from).",
    )
    # Shape.
    unit: ExampleUnit = Field(
        default="turn", description="SFT example per accepted turn or session."
    )
    max_pairs_per_prompt: int = Field(
        default=4, ge=1, description="Cap of thumbs pairs mined from one normalized prompt."
    )
    # Split.
    eval_share: float = Field(
        default=0.1, ge=0, le=1, description="Share of sessions in the eval split."
    )
    split_salt: str = Field(
        default="agentfeedback-v1", description="Salt of the session hash split."
    )
    # Multimodal turns.
    attachments: bool = Field(
        default=False,
        description="User messages of turns with attachments get content parts (text, "
        "image_url / input_audio / file by lake URI and sha256); see curation.attachments.",
    )
