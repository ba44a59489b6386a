"""How much recall the evidence of a regime allows at a target precision, against the truth.

For each regime and seed: the reference lake of its traffic (as `label_harness` builds it),
the label model's evidence, and the generator's truth. Printed per run, all on agent answers
(corrected turns excluded: they train on the correction) and before near-duplicate removal:

- `selected`: recall of the label model's own cut (what `curate sft` keeps before dedup);
- `EM, perfect cut`: EM's ranking kept down to the last place where the true precision of the
  kept answers is still the target: the best recall EM's ordering allows;
- `truth tables`: the same for the model's form with every table fitted on the truth
  (`posterior_given_labels`, temperature 1), cross-fitted: the tables that score one half of
  the sessions are fitted on the labels and votes of the other half (a table fitted on a
  turn's own label knows it). What the form allows when its estimates are as good as labels
  for half the traffic could make them;
- `sarcasm known`: as `truth tables`, with the sarcastic users' votes in rater groups of their
  own (the generator's `has_trait`): what knowing who is sarcastic would add;
- `unvoted (truth)`: the share of good turns in unvoted evidence patterns (agent, position and
  every feature alike) kept best-first by their *true* share of good turns while that share
  stays at the target: how far evidence without any vote can go, picked with the truth.

    python -m tests.unit.curation.label_bounds --regime sarcastic --seeds 11,2026,3,7

An evaluation tool (docs/labels.md, Measured per regime), not used by curation.
"""

import argparse
import dataclasses
import tempfile
import zlib
from pathlib import Path

import numpy as np

from curation.features import add_turn_features
from curation.labels.estimates import precision_threshold
from curation.labels.evidence import Evidence, extract_evidence
from curation.labels.model import LabelModelSettings, fit_label_model, posterior_given_labels
from curation.source import read_enriched
from producers.regimes import REGIMES, regime_config
from producers.traffic import TrafficConfig, has_trait
from tests.unit.curation.label_harness import reference_lake

__all__ = ["best_recall", "cross_fitted", "regime_bounds"]

_COLUMNS = ("selected", "EM, perfect cut", "truth tables", "sarcasm known", "unvoted (truth)")


def best_recall(
    posterior: np.ndarray, good: np.ndarray, eligible: np.ndarray, target: float
) -> float:
    """Recall of good turns when the `eligible` turns are kept best-first down to the last
    place where the true precision of the kept ones is at least `target`."""
    order = np.argsort(-posterior[eligible], kind="stable")
    kept_good = good[eligible][order]
    precision = np.cumsum(kept_good) / np.arange(1, kept_good.size + 1)
    reaching = np.nonzero(precision >= target)[0]
    kept = reaching[-1] + 1 if reaching.size else 0
    return float(kept_good[:kept].sum() / max(good.sum(), 1))


def _sarcasm_known(evidence: Evidence, config: TrafficConfig) -> Evidence:
    """The evidence with each sarcastic end user's turn-level votes in a group of their own."""
    groups = list(evidence.groups)
    worker_group = evidence.worker_group.copy()
    for worker, name in enumerate(evidence.workers):
        source, rater, _kind = [*name.split("|"), "", ""][:3]
        if source != "end_user" or not has_trait(
            config, rater, config.sarcastic_user_share, "sarcastic"
        ):
            continue
        group = f"{groups[worker_group[worker]]}|sarcastic"
        if group not in groups:
            groups.append(group)
        worker_group[worker] = groups.index(group)
    vote_group = np.where(
        evidence.vote_session_level, evidence.vote_group, worker_group[evidence.vote_worker]
    )
    return dataclasses.replace(
        evidence, groups=groups, worker_group=worker_group, vote_group=vote_group
    )


def cross_fitted(evidence: Evidence, good: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """`posterior_given_labels` (temperature 1) of each fold's turns, with the tables fitted on
    the other fold's labels and votes."""
    exact = LabelModelSettings(temperature=1.0)
    posterior = np.zeros(evidence.n)
    for side in (False, True):
        scored = fold == side
        posterior[scored] = posterior_given_labels(evidence, good, exact, fitted_on=~scored)[scored]
    return posterior


def _unvoted_by_truth(evidence: Evidence, good: np.ndarray, target: float) -> float:
    voted = np.bincount(evidence.vote_turn, minlength=evidence.n) > 0
    eligible = ~voted & (evidence.features["corrected"] == 0)
    codes = np.stack([evidence.agent, evidence.stratum, *evidence.features.values()], axis=1)
    _, pattern = np.unique(codes[eligible], axis=0, return_inverse=True)
    good_per = np.bincount(pattern.ravel(), weights=good[eligible].astype(float))
    turns_per = np.bincount(pattern.ravel()).astype(float)
    order = np.argsort(-good_per / turns_per, kind="stable")
    precision = np.cumsum(good_per[order]) / np.cumsum(turns_per[order])
    reaching = np.nonzero(precision >= target)[0]
    if not reaching.size:
        return 0.0
    return float(good_per[order][: reaching[-1] + 1].sum() / max(good.sum(), 1))


def regime_bounds(config: TrafficConfig, work: Path, target: float = 0.97) -> dict[str, float]:
    """The figures of the module docstring for one traffic config."""
    lake = work / f"lake-{config.regime}-{config.seed}"
    truth = reference_lake(lake, config.regime, config.sessions, config.seed, config)
    turns = add_turn_features(read_enriched(str(lake)).turns)
    evidence = extract_evidence(turns)
    by_id = {t.event_id: t.good for s in truth.sessions.values() for t in s.turns}
    good = np.array([by_id[i] for i in turns.get_column("event_id").to_list()], dtype=bool)
    eligible = evidence.features["corrected"] == 0
    em = fit_label_model(evidence).posterior
    cut = precision_threshold(em, target)
    fold = np.array(
        [zlib.crc32(s.encode()) % 2 == 1 for s in turns.get_column("session_id").to_list()]
    )
    truth_tables = cross_fitted(evidence, good, fold)
    sarcasm = cross_fitted(_sarcasm_known(evidence, config), good, fold)
    return dict(
        zip(
            _COLUMNS,
            (
                float(good[(em >= cut) & eligible].sum() / max(good.sum(), 1)),
                best_recall(em, good, eligible, target),
                best_recall(truth_tables, good, eligible, target),
                best_recall(sarcasm, good, eligible, target),
                _unvoted_by_truth(evidence, good, target),
            ),
            strict=True,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--seeds", default="2026,7,11,3", help="comma-separated")
    parser.add_argument("--regime", action="append", choices=sorted(REGIMES))
    parser.add_argument("--target", type=float, default=0.97)
    args = parser.parse_args()
    print("| regime | seed | " + " | ".join(_COLUMNS) + " |")
    print("|---|---|" + "---|" * len(_COLUMNS))
    with tempfile.TemporaryDirectory(prefix="label-bounds-") as work:
        for regime in args.regime or list(REGIMES):
            for seed in (int(s) for s in args.seeds.split(",")):
                config = regime_config(regime, sessions=args.sessions, seed=seed)
                row = regime_bounds(config, Path(work), args.target)
                cells = " | ".join(f"{row[c]:.3f}" for c in _COLUMNS)
                print(f"| {regime} | {seed} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
