"""The label model: the probability that each turn is good, from all its evidence, fitted by
EM without ground truth (Dawid-Skene with per-rater confusion matrices, extended to the
implicit signals).

The latent class of a turn is good / bad. Each evidence source is a "worker" with a confusion
matrix P(category | class): every rater (thumbs, ratings; pooled towards its source's matrix so
that a rater with three votes borrows strength from the crowd and a rater with fifty gets their
own; each source's matrix pooled in turn towards its kind's), the session-level votes, and each
implicit feature (what the user did next, tool errors, the session outcome by position,
corrections). The prior of a good turn is learned per agent version. The E-step adds
log-likelihood ratios, each vote's from its rater's matrix without that vote (leave-one-out);
the M-step counts posteriors with np.bincount.

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

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from curation.labels.evidence import (
    FEATURES,
    SESSION_FEATURES,
    STRATA,
    VOTE_CATEGORIES,
    Evidence,
)

__all__ = ["LabelModel", "LabelModelSettings", "fit_label_model", "posterior_given_labels"]

_EPS = 1e-9


@dataclass(frozen=True)
class LabelModelSettings:
    """Fixed once for all traffic (never per dataset): see docs/labels.md, Model."""

    iterations: int = 1000  # a cap on evaluations of the EM step; the fit stops at its fixed point
    tolerance: float = 1e-6  # the fixed point: no posterior changes more than this in a step
    # Dirichlet pseudo-count per category of every confusion row; small, because along EM's flat
    # ridge the pseudo-counts decide where it lands (docs/labels.md, Model).
    smoothing: float = 0.1
    rater_pool_strength: float = 4.0  # pseudo-votes a rater borrows from their group's matrix
    group_pool_strength: float = 10.0  # pseudo-votes a group borrows from its kind's matrix
    prior_pool_strength: float = 50.0  # pseudo-turns an agent's prior borrows from all agents
    session_weight: float = 0.25  # weight of evidence shared by all turns of a session
    max_prior: float = 0.98  # the prior of a good turn stays in [1 - max_prior, max_prior]
    temperature: float = 0.92  # implicit log-odds are multiplied by this (below 1: less sure)


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


def posterior_given_labels(
    evidence: Evidence,
    labels: np.ndarray,
    settings: LabelModelSettings | None = None,
    fitted_on: np.ndarray | None = None,
) -> np.ndarray:
    """P(good) of every turn under the model's form with every table fitted on known `labels`
    (one M-step on the true classes, then the E-step). Not for curation, which has no labels:
    the yardstick of evaluations, what the form allows when its tables are right.

    `fitted_on` (a mask of turns) fits the tables on those turns only, their labels and their
    votes: the posterior of the other turns is then an honest yardstick. In-sample, a vote is
    still scored leave-one-out (as in the fit), but the implicit tables and the prior count
    each turn's own label (a little: they pool thousands of turns)."""
    settings = settings or LabelModelSettings()
    if evidence.n == 0:
        return np.zeros(0)
    units, weight, unit_of_turn = _compress(evidence)
    fitted = np.ones(evidence.n) if fitted_on is None else fitted_on.astype(float)
    fitted_weight = np.bincount(unit_of_turn, weights=fitted, minlength=units.n)
    known = np.bincount(
        unit_of_turn, weights=labels.astype(float) * fitted, minlength=units.n
    ) / np.maximum(fitted_weight, 1.0)
    in_fit = fitted_weight[units.vote_turn] > 0  # a voted turn is a unit of its own
    fit_units = dataclasses.replace(
        units,
        vote_turn=units.vote_turn[in_fit],
        vote_worker=units.vote_worker[in_fit],
        vote_group=units.vote_group[in_fit],
        vote_category=units.vote_category[in_fit],
        vote_session_level=units.vote_session_level[in_fit],
    )
    params = _EM(fit_units, fitted_weight, settings).m_step(known)
    step = _EM(units, weight, settings)
    implicit, votes = step.log_odds(params, step.counted(known) * in_fit)
    posterior: np.ndarray = _sigmoid(settings.temperature * implicit + votes)
    return posterior[unit_of_turn]


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


@dataclass
class _Parameters:
    """What an M-step estimates: the prior per (agent, position) slot, the implicit tables, the
    vote groups' and the raters' confusion matrices."""

    prior: np.ndarray
    tables: dict[str, np.ndarray]
    groups: np.ndarray
    workers: np.ndarray  # pooled, on all of each rater's votes [worker, class, category]
    # The votes counted into them (posterior-weighted), same shape: the E-step takes each
    # vote's own share out of these (leave-one-out) instead of using `workers`.
    worker_counts: np.ndarray


class _EM:
    """One EM iteration as a map from the posteriors of the units to new posteriors (M-step,
    then E-step), so that the iteration can be accelerated (`_fit`)."""

    def __init__(self, evidence: Evidence, weight: np.ndarray, settings: LabelModelSettings):
        self.evidence, self.weight, self.settings = evidence, weight, settings
        self.k = VOTE_CATEGORIES
        self.n_workers, self.n_groups = len(evidence.workers), len(evidence.groups)
        # A group is "<source or session>|<kind>"; the kinds are the parents of the groups.
        kind_names = [group.rsplit("|", 1)[-1] for group in evidence.groups]
        self.group_kind = np.asarray(
            [sorted(set(kind_names)).index(kind) for kind in kind_names], dtype=np.int64
        )
        self.n_kinds = len(set(kind_names))
        self.cell = evidence.vote_worker * self.k + evidence.vote_category
        self.group_cell = evidence.vote_group * self.k + evidence.vote_category
        self.vote_weight = np.where(evidence.vote_session_level, settings.session_weight, 1.0)
        self.feature_weight = {
            name: settings.session_weight if name in SESSION_FEATURES else 1.0 for name in FEATURES
        }
        self.cells = {
            name: evidence.stratum * categories + np.maximum(evidence.features[name], 0)
            for name, categories in FEATURES.items()
        }
        self.present = {name: evidence.features[name] >= 0 for name in FEATURES}
        self.n_agents = len(evidence.agents)
        self.slot = evidence.agent * STRATA + evidence.stratum

    def m_step(self, q: np.ndarray) -> _Parameters:
        evidence, weight, settings, k = self.evidence, self.weight, self.settings, self.k
        n_agents, slot = self.n_agents, self.slot
        # The prior per agent version and position (last turn or not), pooled towards the
        # agent's share, itself pooled towards the overall share.
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
        tables = {
            name: _table(self.cells[name], self.present[name], q, weight, categories, settings)
            for name, categories in FEATURES.items()
        }
        qv = q[evidence.vote_turn]
        n_groups, n_workers = self.n_groups, self.n_workers
        group_counts = (
            np.stack(
                [
                    np.bincount(self.group_cell, weights=1.0 - qv, minlength=n_groups * k),
                    np.bincount(self.group_cell, weights=qv, minlength=n_groups * k),
                ]
            )
            .reshape(2, n_groups, k)
            .transpose(1, 0, 2)
        )
        # Each group's matrix is pooled towards its kind's (all thumbs, all ratings), as each
        # rater's is towards its group's: a group with fifteen votes says little by itself.
        kind_counts = np.zeros((self.n_kinds, 2, k))
        np.add.at(kind_counts, self.group_kind, group_counts)
        kind_counts += settings.smoothing
        kinds = kind_counts / kind_counts.sum(axis=2, keepdims=True)
        pooled_groups = group_counts + settings.group_pool_strength * kinds[self.group_kind]
        groups = pooled_groups / pooled_groups.sum(axis=2, keepdims=True)
        worker_counts = (
            np.stack(
                [
                    np.bincount(self.cell, weights=1.0 - qv, minlength=n_workers * k),
                    np.bincount(self.cell, weights=qv, minlength=n_workers * k),
                ]
            )
            .reshape(2, n_workers, k)
            .transpose(1, 0, 2)
        )
        pooled = worker_counts + settings.rater_pool_strength * groups[evidence.worker_group]
        workers = pooled / pooled.sum(axis=2, keepdims=True)
        return _Parameters(prior, tables, groups, workers, worker_counts)

    def counted(self, q: np.ndarray) -> np.ndarray:
        """What each vote added to its rater's counts in `m_step(q)`: [(bad, good), vote]."""
        at_vote = q[self.evidence.vote_turn]
        return np.stack([1.0 - at_vote, at_vote])

    def log_odds(self, params: _Parameters, counted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E-step: the prior's and the implicit evidence's log-odds of each unit, and the votes'
        log-likelihood ratio.

        Each vote is scored with its rater's matrix fitted on the rater's *other* votes
        (leave-one-out: `counted`, what this vote added to the counts, is taken out again).
        Scored with the full matrix, a vote would help estimate the matrix that then judges it:
        a rater with one thumbs-down gets a matrix that says thumbs-down means bad, the turn's
        posterior follows, and EM confirms itself (docs/labels.md)."""
        evidence, n = self.evidence, self.evidence.n
        implicit = np.log(params.prior / (1 - params.prior))[self.slot]
        for name in FEATURES:
            contribution = _llr(params.tables[name])[self.cells[name]] * self.present[name]
            implicit = implicit + self.feature_weight[name] * contribution
        pool, worker = self.settings.rater_pool_strength, evidence.vote_worker
        totals = params.worker_counts.sum(axis=2)
        likelihood = []
        for label in (0, 1):  # bad, good
            own = np.take(params.worker_counts[:, label, :].ravel(), self.cell) - counted[label]
            others = np.take(totals[:, label], worker) - counted[label]
            group = np.take(params.groups[:, label, :].ravel(), self.group_cell)
            likelihood.append((own + pool * group) / (others + pool) + _EPS)
        log_ratio = np.log(likelihood[1] / likelihood[0])
        votes = np.bincount(evidence.vote_turn, weights=log_ratio * self.vote_weight, minlength=n)
        return implicit, votes

    def __call__(self, q: np.ndarray) -> np.ndarray:
        implicit, votes = self.log_odds(self.m_step(q), self.counted(q))
        return _sigmoid(implicit + votes)


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))


def _fit(evidence: Evidence, weight: np.ndarray, settings: LabelModelSettings) -> LabelModel:
    """EM over units of `weight` turns each (see `_compress`), run to its fixed point.

    Plain EM crawls here: with few votes the prior of a version and the implicit tables trade
    off along a nearly flat ridge, and EM took 150-300 iterations to reach its fixed point on
    lakes with 3% of turns rated (stopped at 40, the fit depended on where it stopped: recall
    0.29 instead of 0.67 on `sparse`, docs/labels.md). SQUAREM (Varadhan and Roland, 2008)
    extrapolates along the last two steps and needs far fewer evaluations; an extrapolated
    point whose residual is more than twice the cycle's first is replaced by plain EM's two
    steps (a partial safeguard, not a guarantee: the cap on evaluations bounds the rest). No
    library: the SQUAREM packages are for R, and scipy has no accelerated
    fixed-point iteration for a map with bounds (`scipy.optimize.fixed_point` extrapolates
    each coordinate on its own, which leaves [0, 1]).
    """
    step = _EM(evidence, weight, settings)
    q = _initial_posterior(evidence)
    converged, evaluations, step_max = False, 0, 1.0
    while evaluations < settings.iterations:
        q1 = step(q)
        evaluations += 1
        r = q1 - q
        if float(np.max(np.abs(r))) < settings.tolerance:
            q, converged = q1, True
            break
        q2 = step(q1)
        evaluations += 1
        v = q2 - q1 - r
        r_norm, v_norm = float(np.sqrt(r @ r)), float(np.sqrt(v @ v))
        if v_norm == 0.0:
            q = q2
            continue
        # The step length, bounded by `step_max`: it starts at plain EM's and grows fourfold
        # each time a step reaches it, shrinks back after a rejected one (SQUAREM's global
        # scheme).
        alpha = min(step_max, r_norm / v_norm)
        jump = np.clip(q + 2.0 * alpha * r + alpha * alpha * v, 0.0, 1.0)
        landed = step(jump)
        evaluations += 1
        # Partial monotonicity: the extrapolated point's residual may be at most twice the one
        # this cycle started from (EM's own residual is not monotone on the ridge either).
        if float(np.sqrt((landed - jump) @ (landed - jump))) <= 2.0 * r_norm:
            q = landed
            if alpha == step_max:
                step_max *= 4.0
        else:
            q, step_max = q2, max(1.0, step_max / 4.0)
    params = step.m_step(q)
    implicit, votes = step.log_odds(params, step.counted(q))
    posterior = _sigmoid(settings.temperature * implicit + votes)
    votes_per_worker = np.bincount(evidence.vote_worker, minlength=step.n_workers)
    return LabelModel(
        posterior=posterior,
        prior={
            f"{agent}/{'last' if stratum else 'earlier'}": float(
                params.prior[index * STRATA + stratum]
            )
            for index, agent in enumerate(evidence.agents)
            for stratum in range(STRATA)
        },
        feature_tables=params.tables,
        group_tables={g: params.groups[i] for i, g in enumerate(evidence.groups)},
        iterations=evaluations,
        converged=converged,
        worker_votes={w: int(c) for w, c in zip(evidence.workers, votes_per_worker, strict=True)},
    )
