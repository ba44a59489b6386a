"""Every traffic regime through the offline harness (generator -> batch reference -> Delta ->
curate with default options), scored against the generator's ground truth.

The label model is the same for all regimes (no per-regime settings); the targets are those of
the default `curate sft`: precision >= 0.97 with recall >= 0.30, preference pairs >= 0.97
correctly oriented, and the manifest's estimated precision within 0.03 of the measured one.
"""

from pathlib import Path

import pytest

from producers.regimes import REGIMES
from producers.traffic import DEFAULT_AGENTS
from tests.unit.curation.label_harness import random_mix, score_regime

SESSIONS = 3000  # the size of the measurement the targets come from
SEEDS = (2026, 7, 11, 3, 5, 13)  # the seeds of the table in docs/labels.md
# (regime, seed) pairs where the model misses a target today (measured figures in
# docs/labels.md); strict: the test fails as soon as one passes, so no mark outlives its miss.
MISSES = {
    ("sarcastic", 2026): "recall 0.290 < 0.30: tables fitted on other sessions' truth allow 0.284",
    ("sarcastic", 7): "recall 0.188 < 0.30: the cut stops early (estimate 0.008 under)",
    ("sarcastic", 11): "recall 0.253 < 0.30: EM's ranking allows 0.32 before dedup",
    ("sarcastic", 3): "recall 0.298 < 0.30: tables fitted on other sessions' truth allow 0.279",
    ("sarcastic", 13): "recall 0.280 < 0.30: tables fitted on other sessions' truth allow 0.273",
}


def _cases() -> list[object]:
    return [
        pytest.param(
            name,
            seed,
            id=f"{name}-{seed}",
            marks=pytest.mark.xfail(reason=MISSES[name, seed], strict=True),
        )
        if (name, seed) in MISSES
        else pytest.param(name, seed, id=f"{name}-{seed}")
        for seed in SEEDS
        for name in sorted(REGIMES)
    ]


@pytest.mark.parametrize(("regime", "seed"), _cases())
def test_default_curation_reaches_the_targets(regime: str, seed: int, tmp_path: Path) -> None:
    score = score_regime(regime, SESSIONS, seed, tmp_path)
    print(f"\n{score.as_row()}")
    assert score.precision >= 0.97
    assert score.recall >= 0.30
    assert score.pairs > 0 and score.pairs_oriented >= 0.97
    assert abs(score.estimated_precision - score.precision) <= 0.03


def test_random_mixes_are_reproducible_and_stay_in_the_regimes_ranges() -> None:
    mixes = [random_mix(100, seed) for seed in range(20)]
    assert random_mix(100, 3) == mixes[3]
    assert len({(m.feedback_share, m.max_turns, m.session_model) for m in mixes}) == 20
    for mix in mixes:
        assert mix.sessions == 100 and mix.regime == f"mix-{mix.seed}"
        assert 0.1 <= mix.feedback_share <= 0.9
        assert mix.noisy_rater_noise <= 0.25 and mix.sarcastic_user_share <= 0.15
        assert 3 <= mix.max_turns <= 9
        shifts = {
            round(a.quality - d.quality, 9) for a, d in zip(mix.agents, DEFAULT_AGENTS, strict=True)
        }
        assert len(shifts) == 1 and -0.27 <= shifts.pop() <= 0.05
