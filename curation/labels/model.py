"""The label model: the probability that each turn is good, from all its evidence, fitted by
EM without ground truth (Dawid-Skene with per-rater confusion matrices, extended to the
implicit signals).

The latent class of a turn is good / bad. Each evidence source is a "worker" with a confusion
matrix P(category | class): every rater (thumbs, ratings; pooled towards its source's matrix so
that a rater with three votes borrows strength from the crowd and a rater with fifty gets their
own), the session-level votes, and each implicit feature (what the user did next, tool errors,
the session outcome by position, corrections). The prior of a good turn is learned per agent
version. The E-step adds log-likelihood ratios; the M-step counts posteriors with np.bincount.

Why no library: crowd-kit's DawidSkene (1.4.2) fits one confusion matrix per worker on a pandas
frame of (task, worker, label) with no pooling towards a group matrix, no per-agent prior and
no way to weaken evidence that all turns of a session share; installing it also pulls in
transformers, tokenizers and nltk. scikit-learn is not a dependency here and its models need
labels this data does not have. The vectorised EM below fits 1M turns in about a second
(docs/labels.md has the measured figures).

Session-shared evidence (the outcome, session-level votes) is counted with a weight below one:
the turns of one session are not independent draws, and counting a shared signal in full for
each turn makes the posteriors overconfident.
"""

from dataclasses import dataclass, field

import numpy as np

from curation.labels.evidence import (
    FEATURES,
    SESSION_FEATURES,
    STRATA,
    VOTE_CATEGORIES,
    Evidence,
)

__all__ = ["LabelModel", "LabelModelSettings", "fit_label_model"]

_EPS = 1e-9


@dataclass(frozen=True)
class LabelModelSettings:
    """Fixed once for all traffic (never per dataset): see docs/labels.md, "Settings"."""

    iterations: int = 40
    tolerance: float = 1e-5
    smoothing: float = 1.0  # Dirichlet pseudo-count per category of every confusion row
    rater_pool_strength: float = 4.0  # pseudo-votes a rater borrows from their group's matrix
    prior_pool_strength: float = 50.0  # pseudo-turns an agent's prior borrows from all agents
    session_weight: float = 0.25  # weight of evidence shared by all turns of a session
    max_prior: float = 0.98  # the prior of a good turn stays in [1 - max_prior, max_prior]
    temperature: float = 0.9  # implicit log-odds are multiplied by this (below 1: less sure)


@dataclass
class LabelModel:
    """A fitted model: the posterior of each turn and what was learned."""

    posterior: np.ndarray
    prior: dict[str, float]
    feature_tables: dict[str, np.ndarray]  # name -> [stratum, class, category] probabilities
    group_tables: dict[str, np.ndarray]  # vote group -> [2, 3]
    iterations: int
    converged: bool
    worker_votes: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        """What the manifest records about the fit (JSON-ready, rounded)."""

        def table(matrix: np.ndarray) -> dict[str, list[float]]:
            return {
                "bad": [round(float(x), 4) for x in matrix[0]],
                "good": [round(float(x), 4) for x in matrix[1]],
            }

        return {
            "iterations": self.iterations,
            "converged": self.converged,
            "prior_good": {k: round(v, 4) for k, v in sorted(self.prior.items())},
            "features": {
                f"{name}/{'last' if stratum else 'earlier'}": table(matrix[stratum])
                for name, matrix in sorted(self.feature_tables.items())
                for stratum in range(STRATA)
            },
            "vote_groups": {k: table(v) for k, v in sorted(self.group_tables.items())},
            "raters": len(self.worker_votes),
        }


def _initial_posterior(evidence: Evidence) -> np.ndarray:
    """A rough start that fixes which class is "good": explicit votes, then the obvious
    implicit signs (retried, corrected, tool errors, outcome). EM moves on from here."""
    score = np.zeros(evidence.n)
    sign = (evidence.vote_category - (VOTE_CATEGORIES - 1) / 2) / ((VOTE_CATEGORIES - 1) / 2)
    weight = np.where(evidence.vote_session_level, 0.5, 1.5)
    score += np.bincount(evidence.vote_turn, weights=sign * weight, minlength=evidence.n)
    after, last = evidence.features["after"], evidence.stratum == 1
    retried = np.where(last, after == 5, after == 1)
    score -= 1.5 * retried
    score -= 2.0 * evidence.features["corrected"]
    score -= 1.0 * (evidence.features["tools"] == 2)
    score += np.where(last & (after == 0), 0.5, 0.0) - np.where(last & (after > 0), 0.5, 0.0)
    return 1.0 / (1.0 + np.exp(-(score + 0.5)))


def _table(
    cells: np.ndarray,
    present: np.ndarray,
    q: np.ndarray,
    weight: np.ndarray,
    categories: int,
    settings: LabelModelSettings,
) -> np.ndarray:
    """[stratum, class, category] = P(category | class, stratum), smoothed."""
    size = STRATA * categories
    w = weight[present]
    good: np.ndarray = np.bincount(cells[present], weights=q[present] * w, minlength=size)
    bad: np.ndarray = np.bincount(cells[present], weights=(1.0 - q[present]) * w, minlength=size)
    good = good.reshape(STRATA, -1) + settings.smoothing
    bad = bad.reshape(STRATA, -1) + settings.smoothing
    return np.stack(
        [bad / bad.sum(axis=1, keepdims=True), good / good.sum(axis=1, keepdims=True)], axis=1
    )


def _llr(table: np.ndarray) -> np.ndarray:
    """Flattened [stratum * categories] log-likelihood ratios good vs bad."""
    return (np.log(table[:, 1, :] + _EPS) - np.log(table[:, 0, :] + _EPS)).reshape(-1)


def fit_label_model(evidence: Evidence, settings: LabelModelSettings | None = None) -> LabelModel:
    """Fit by EM and return P(good) of every turn."""
    settings = settings or LabelModelSettings()
    if evidence.n == 0:
        return LabelModel(np.zeros(0), {}, {}, {}, 0, True)
    units, weight, unit_of_turn = _compress(evidence)
    model = _fit(units, weight, settings)
    model.posterior = model.posterior[unit_of_turn]
    return model


def _compress(evidence: Evidence) -> tuple[Evidence, np.ndarray, np.ndarray]:
    """Turns without votes that share every feature, agent and position are one unit with a
    weight (their count): EM's cost then grows with the number of distinct patterns and of
    voted turns, not with the table's rows. Returns the units, their weights, and each turn's
    unit."""
    n = evidence.n
    voted = np.bincount(evidence.vote_turn, minlength=n) > 0
    key = evidence.agent * STRATA + evidence.stratum
    for name, categories in FEATURES.items():
        key = key * (categories + 1) + (evidence.features[name] + 1)
    key = np.where(voted, -1, key)
    plain = np.nonzero(~voted)[0]
    patterns, first, inverse, counts = np.unique(
        key[plain], return_index=True, return_inverse=True, return_counts=True
    )
    voted_turns = np.nonzero(voted)[0]
    representative = np.concatenate([plain[first], voted_turns])
    unit_of_turn = np.empty(n, dtype=np.int64)
    unit_of_turn[plain] = inverse
    unit_of_turn[voted_turns] = patterns.size + np.arange(voted_turns.size)
    weight = np.concatenate([counts.astype(np.float64), np.ones(voted_turns.size)])
    units = Evidence(
        n=representative.size,
        features={name: codes[representative] for name, codes in evidence.features.items()},
        stratum=evidence.stratum[representative],
        agent=evidence.agent[representative],
        agents=evidence.agents,
        vote_turn=unit_of_turn[evidence.vote_turn],
        vote_worker=evidence.vote_worker,
        vote_group=evidence.vote_group,
        vote_category=evidence.vote_category,
        vote_session_level=evidence.vote_session_level,
        workers=evidence.workers,
        groups=evidence.groups,
        worker_group=evidence.worker_group,
    )
    return units, weight, unit_of_turn


def _fit(evidence: Evidence, weight: np.ndarray, settings: LabelModelSettings) -> LabelModel:
    """EM over units of `weight` turns each (see `_compress`)."""
    n = evidence.n
    q = _initial_posterior(evidence)
    k = VOTE_CATEGORIES
    n_workers, n_groups = len(evidence.workers), len(evidence.groups)
    cell = evidence.vote_worker * k + evidence.vote_category
    group_cell = evidence.vote_group * k + evidence.vote_category
    vote_weight = np.where(evidence.vote_session_level, settings.session_weight, 1.0)
    feature_weight = {
        name: settings.session_weight if name in SESSION_FEATURES else 1.0 for name in FEATURES
    }
    cells = {
        name: evidence.stratum * categories + np.maximum(evidence.features[name], 0)
        for name, categories in FEATURES.items()
    }
    present = {name: evidence.features[name] >= 0 for name in FEATURES}
    n_agents = len(evidence.agents)
    slot = evidence.agent * STRATA + evidence.stratum
    tables: dict[str, np.ndarray] = {}
    groups = np.zeros((n_groups, 2, k))
    prior = np.full(n_agents * STRATA, 0.5)
    converged, iterations = False, 0
    for iteration in range(1, settings.iterations + 1):
        iterations = iteration
        # M-step: the prior per agent version and position (last turn or not), pooled towards
        # the agent's share, itself pooled towards the overall share.
        qw = q * weight
        overall = qw.sum() / weight.sum()
        good_per_agent = np.bincount(evidence.agent, weights=qw, minlength=n_agents)
        turns_per_agent = np.bincount(evidence.agent, weights=weight, minlength=n_agents)
        agent_share = (good_per_agent + settings.prior_pool_strength * overall) / (
            turns_per_agent + settings.prior_pool_strength
        )
        good_per_slot = np.bincount(slot, weights=qw, minlength=n_agents * STRATA)
        turns_per_slot = np.bincount(slot, weights=weight, minlength=n_agents * STRATA)
        prior = (good_per_slot + settings.prior_pool_strength * np.repeat(agent_share, STRATA)) / (
            turns_per_slot + settings.prior_pool_strength
        )
        prior = np.clip(prior, 1 - settings.max_prior, settings.max_prior)
        for name, categories in FEATURES.items():
            tables[name] = _table(cells[name], present[name], q, weight, categories, settings)
        qv = q[evidence.vote_turn]
        group_counts = (
            np.stack(
                [
                    np.bincount(group_cell, weights=1.0 - qv, minlength=n_groups * k),
                    np.bincount(group_cell, weights=qv, minlength=n_groups * k),
                ]
            )
            .reshape(2, n_groups, k)
            .transpose(1, 0, 2)
            + settings.smoothing
        )
        groups = group_counts / group_counts.sum(axis=2, keepdims=True)
        worker_counts = (
            np.stack(
                [
                    np.bincount(cell, weights=1.0 - qv, minlength=n_workers * k),
                    np.bincount(cell, weights=qv, minlength=n_workers * k),
                ]
            )
            .reshape(2, n_workers, k)
            .transpose(1, 0, 2)
        )
        pooled = worker_counts + settings.rater_pool_strength * groups[evidence.worker_group]
        workers = pooled / pooled.sum(axis=2, keepdims=True)
        # E-step: prior log-odds plus the log-likelihood ratio of every piece of evidence.
        logit = np.log(prior / (1 - prior))[slot]
        for name in FEATURES:
            contribution = _llr(tables[name])[cells[name]] * present[name]
            logit = logit + feature_weight[name] * contribution
        implicit = logit
        log_good = np.log(workers[:, 1, :] + _EPS)[evidence.vote_worker, evidence.vote_category]
        log_bad = np.log(workers[:, 0, :] + _EPS)[evidence.vote_worker, evidence.vote_category]
        votes_good = np.bincount(evidence.vote_turn, weights=log_good * vote_weight, minlength=n)
        votes_bad = np.bincount(evidence.vote_turn, weights=log_bad * vote_weight, minlength=n)
        logit = implicit + votes_good - votes_bad
        updated = 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))
        change = float(np.max(np.abs(updated - q)))
        q = updated
        if change < settings.tolerance:
            converged = True
            break
    final = settings.temperature * implicit + votes_good - votes_bad
    posterior = 1.0 / (1.0 + np.exp(-np.clip(final, -40, 40)))
    votes_per_worker = np.bincount(evidence.vote_worker, minlength=n_workers)
    return LabelModel(
        posterior=posterior,
        prior={
            f"{agent}/{'last' if stratum else 'earlier'}": float(prior[index * STRATA + stratum])
            for index, agent in enumerate(evidence.agents)
            for stratum in range(STRATA)
        },
        feature_tables=tables,
        group_tables={g: groups[i] for i, g in enumerate(evidence.groups)},
        iterations=iterations,
        converged=converged,
        worker_votes={w: int(c) for w, c in zip(evidence.workers, votes_per_worker, strict=True)},
    )
