"""Named traffic regimes of the generator: how much feedback, how noisy, how late, how good.

A regime is a set of `TrafficConfig` values. They differ in feedback rate (3-40% of turns get
feedback on the turn), rater noise (a reliable majority and a noisy minority flipping up to 25%
of their verdicts), sarcasm (some users give a thumbs-up to bad answers), correction delay
(minutes to a day), base rate of truly good turns (0.45-0.9) and session length. `default` is
the generator's traffic as it always was: the same seed gives the same bytes.

Curation's label model is fitted without ground truth and never told which regime it reads;
the regimes exist to check it (and the monitors) on traffic unlike the one they were built on.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.settings import ENV_PREFIX, ServiceSettings
from producers.traffic import DEFAULT_AGENTS, AgentProfile, TrafficConfig

__all__ = [
    "ENV_PREFIX_GENERATOR",
    "REGIMES",
    "GeneratorSettings",
    "Regime",
    "regime_config",
    "regime_names",
]

ENV_PREFIX_GENERATOR = f"{ENV_PREFIX}GENERATOR_"


@dataclass(frozen=True)
class Regime:
    """A named kind of traffic: `quality_shift` moves every agent's mean true quality (and so
    the base rate of good turns); `values` are TrafficConfig fields."""

    name: str
    description: str
    quality_shift: float = 0.0
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    def agents(self) -> tuple[AgentProfile, ...]:
        if not self.quality_shift:
            return DEFAULT_AGENTS
        return tuple(
            dataclasses.replace(a, quality=min(0.97, max(0.03, a.quality + self.quality_shift)))
            for a in DEFAULT_AGENTS
        )


REGIMES: dict[str, Regime] = {
    regime.name: regime
    for regime in (
        Regime(
            "default",
            "the generator's historical traffic: ~86% good turns, feedback on 35% of sessions "
            "(~9% of turns), 10% of verdicts flipped, feedback seconds to 2 hours late",
        ),
        Regime(
            "sparse",
            "little feedback (~3% of turns), up to 9 turns a session, ~72% good turns, a noisy "
            "third of raters, a few sarcastic users, corrections hours late",
            quality_shift=-0.15,
            values={
                "feedback_share": 0.12,
                "feedback_noise": 0.05,
                "noisy_rater_share": 0.3,
                "noisy_rater_noise": 0.25,
                "sarcastic_user_share": 0.05,
                "correction_delay_s": 3 * 3600.0,
                "max_turns": 9,
                "retry_without_id_share": 0.3,
                "session_model": "turns",
                "quit_after_bad": 0.6,
                "retry_share": 0.6,
            },
        ),
        Regime(
            "crowd",
            "heavy feedback (~40% of turns) from a crowd where 40% of raters flip 25% of their "
            "verdicts, short sessions, ~75% good turns, corrections within minutes",
            quality_shift=-0.1,
            values={
                "feedback_share": 0.85,
                "feedback_items": (1, 2, 2, 2),
                "feedback_noise": 0.04,
                "noisy_rater_share": 0.4,
                "noisy_rater_noise": 0.25,
                "correction_delay_s": 300.0,
                "max_turns": 4,
                "session_model": "turns",
            },
        ),
        Regime(
            "sarcastic",
            "a struggling agent fleet (~50% good turns), 15% of users give thumbs-up to bad "
            "answers, feedback on ~30% of turns, corrections an hour late",
            quality_shift=-0.27,
            values={
                "feedback_share": 0.8,
                "feedback_noise": 0.08,
                "noisy_rater_share": 0.2,
                "sarcastic_user_share": 0.15,
                "quit_after_bad": 0.7,
                "correction_delay_s": 3600.0,
                "max_turns": 6,
                "retry_without_id_share": 0.5,
                "session_model": "turns",
            },
        ),
        Regime(
            "late",
            "good agents (~90% good turns), corrections up to a day late (many after the "
            "processor's grace), feedback on ~8% of turns, two-turn sessions on average",
            quality_shift=0.04,
            values={
                "feedback_share": 0.2,
                "feedback_noise": 0.1,
                "noisy_rater_share": 0.25,
                "sarcastic_user_share": 0.1,
                "correction_delay_s": 6 * 3600.0,
                "max_turns": 3,
                "session_model": "turns",
            },
        ),
    )
}


def regime_names() -> list[str]:
    return list(REGIMES)


def regime_config(name: str, **overrides: Any) -> TrafficConfig:
    """The TrafficConfig of regime `name`; `overrides` (sessions, seed...) win."""
    try:
        regime = REGIMES[name]
    except KeyError:
        raise ValueError(f"unknown traffic regime {name!r}; known: {regime_names()}") from None
    values: dict[str, Any] = {"regime": name, "agents": regime.agents(), **regime.values}
    values.update(overrides)
    return TrafficConfig(**values)


class GeneratorSettings(ServiceSettings):
    """Settings of `feedbackctl generate` and the demo's traffic (FEEDBACK_GENERATOR_*)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX_GENERATOR)

    regime: str = Field(
        default="default", description=f"Traffic regime, one of {', '.join(REGIMES)}."
    )
