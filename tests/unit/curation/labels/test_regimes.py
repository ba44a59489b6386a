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
SEED = 2026
# Regimes where the model misses a target today (measured figures in docs/labels.md); strict:
# the test fails as soon as they pass, so the mark cannot outlive the miss.
MISSES = {
    "crowd": "precision 0.966 < 0.97: the model is ~0.01 overconfident on this traffic",
    "sparse": "recall 0.293 < 0.30 after near-duplicate removal (0.302 before it)",
}


def _regimes() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=MISSES[name], strict=True))
        if name in MISSES
        else name
        for name in sorted(REGIMES)
    ]


@pytest.mark.parametrize("regime", _regimes())
def test_default_curation_reaches_the_targets(regime: str, tmp_path: Path) -> None:
    score = score_regime(regime, SESSIONS, SEED, tmp_path)
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
