"""Fits the in-domain adapter (router.adapter) on labels (router.labels) with scikit-learn, and guards it.

The learner: scikit-learn's LogisticRegression (L2, C = 1 / learning.alpha) on the tf-idf vectors
(TfidfTransformer, sublinear) of the labels' hashed words and pairs, fitted to whether the local answer fell short
(local_ok false; an unknown one at its prior). Its log-odds are standardised (centred on the labels' mean, divided
by their spread on them) and added to the need model's gain at learning.weight times the gain's spread over the
same labels: the adapter moves a request by a fixed share of the need model's own range, so `weight` is its say
against the need model's whatever the labels' scale. Words carry what the need model cannot know about domains
it never saw (which subjects this installation's local model gets wrong).
Fitting a ridge to the residual of the need model's gain (strong_ok - local_ok - gain) instead let the ridge's
shrinkage set the adapter's weight: a domain whose few labels were unlucky moved whole, and the guard refused it
on two of the five held-out sets; strong_ok adds noise where the local model's failures are the signal. The
variants measured, each with its figures, and why this one: docs/experiments/adapter.md.

The guard: the labels are split guard_repeats times into guard_folds folds; on each held-back fold, an adapter
fitted on the other folds and the shipped model rank the same labels (APGR, router.need_data.apgr). The adapter
is used only when its mean is at least the shipped model's. APGR is computed inside each held-back fold, never
over out-of-fold scores pooled from different fits: pooled leave-out scores of a domain's labels are
anti-correlated with their own outcomes and would refuse every adapter that learns a domain's difficulty.
The verdict and both figures go into the adapter. Training needs the `dev` extra."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from router.adapter import HASH_BITS, Adapter
from router.config import LearningConfig
from router.need_data import apgr
from router.sovereignty import Outcome, threshold_for

# What an unknown outcome counts as: feedback and re-asks say only how the local answer did; the strong tiers
# answer most questions well, the local one less often (RouteLLM's MMLU: GPT-4 0.81, Mixtral 0.68).
STRONG_PRIOR = 0.8
LOCAL_PRIOR = 0.6
ROUND = 6


def outcome(value: bool | None, prior: float) -> float:
    return prior if value is None else float(value)


@dataclass(frozen=True)
class Rows:
    """The labels as the learner sees them."""

    terms: sparse.csr_matrix  # binary, one column per hash bucket
    gain: np.ndarray  # the shipped need model's gain estimate
    weak: np.ndarray  # local_ok (prior when unknown)
    strong: np.ndarray  # strong_ok (prior when unknown)

    @property
    def failed(self) -> np.ndarray:
        """What the learner is fitted to: whether the local answer fell short (the prior when unknown)."""
        return 1.0 - self.weak

    def __len__(self) -> int:
        return self.terms.shape[0]


def rows(labels: Sequence[Mapping[str, Any]]) -> Rows:
    buckets = [sorted(set(label["x"]["h"])) for label in labels]
    indices = np.array([b for row in buckets for b in row], dtype=np.int64)
    indptr = np.cumsum([0] + [len(row) for row in buckets])
    terms = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(labels), 1 << HASH_BITS))
    return Rows(
        terms,
        np.array([float(label["x"]["gain"]) for label in labels]),
        np.array([outcome(label.get("local_ok"), LOCAL_PRIOR) for label in labels]),
        np.array([outcome(label.get("strong_ok"), STRONG_PRIOR) for label in labels]),
    )


# Below this spread the labels' gains are taken as flat (a need model that ranks them all alike): the adapter then
# still gets a scale, small beside any gain the shipped model gives, so that it can order them.
MIN_SPREAD = 1e-3


@dataclass(frozen=True)
class Fitted:
    tfidf: TfidfTransformer
    coef: np.ndarray  # the logistic regression's log-odds weights, one per hash bucket
    intercept: float
    centre: float  # its mean log-odds on its labels
    scale: float  # weight x the gains' spread / the log-odds' spread, on its labels

    def log_odds(self, terms: sparse.csr_matrix) -> np.ndarray:
        return self.tfidf.transform(terms) @ self.coef + self.intercept

    def predict(self, terms: sparse.csr_matrix) -> np.ndarray:
        """What the adapter adds to the need model's gain."""
        return self.scale * (self.log_odds(terms) - self.centre)


def learn(data: Rows, index: np.ndarray, alpha: float, weight: float) -> Fitted:
    tfidf = TfidfTransformer(sublinear_tf=True).fit(data.terms[index])
    vectors = tfidf.transform(data.terms[index])
    failed = data.failed[index]
    # Each label twice, as failed and as passed, weighted by how likely each is: an unknown local outcome counts
    # at its prior, a known one only once (its other copy weighs 0 and is dropped).
    # Only the buckets these labels have: the others' weights are 0 under the L2 penalty anyway, and a solver over
    # all 2**HASH_BITS of them took ~1.5 s a fit (26 fits a `route learn`).
    seen = np.unique(vectors.indices)
    stacked = sparse.vstack([vectors, vectors]).tocsc()[:, seen].tocsr()
    target = np.r_[np.ones(len(failed)), np.zeros(len(failed))]
    weights = np.r_[failed, 1.0 - failed]
    keep = weights > 0
    coef = np.zeros(vectors.shape[1])
    if len(np.unique(target[keep])) < 2:  # all failed or all passed: no ranking to learn, the need model's stays
        return Fitted(tfidf, coef, 0.0, 0.0, 0.0)
    model = LogisticRegression(C=1.0 / alpha, max_iter=1000)
    # One BLAS thread: on a few hundred labels the solver's threads only contend (1.5 s a fit on a busy two-core
    # machine against 0.05 s on one thread).
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(stacked[keep], target[keep], sample_weight=weights[keep])
    coef[seen] = model.coef_[0]
    fitted = Fitted(tfidf, coef, float(model.intercept_[0]), 0.0, 0.0)
    odds = fitted.log_odds(data.terms[index])
    spread = float(odds.std())
    scale = weight * max(float(data.gain[index].std()), MIN_SPREAD) / spread if spread > 1e-12 else 0.0
    return dataclasses.replace(fitted, centre=float(odds.mean()), scale=scale)


@dataclass(frozen=True)
class Guard:
    verdict: str  # accepted | refused
    shipped_apgr: float  # the shipped model's ranking of the held-back labels (mean over the held-back folds)
    adapted_apgr: float  # the adapter's, each fold ranked by an adapter fitted without it
    labels: int
    folds: int
    repeats: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "shipped_apgr": round(float(self.shipped_apgr), 4),
            "adapted_apgr": round(float(self.adapted_apgr), 4),
            "labels": self.labels,
            "folds": self.folds,
            "repeats": self.repeats,
        }


def _ranked(scores: np.ndarray, data: Rows, index: np.ndarray) -> float:
    return apgr(list(scores), list(data.weak[index]), list(data.strong[index]))


def guard(data: Rows, config: LearningConfig) -> Guard:
    """Repeated k-fold: on each held-back fold, the adapter fitted without it against the shipped model."""
    folds = max(2, min(config.guard_folds, len(data)))
    shipped, adapted = [], []
    for repeat in range(config.guard_repeats):
        split = KFold(folds, shuffle=True, random_state=config.seed + repeat).split(np.arange(len(data)))
        for train, test in split:
            fitted = learn(data, train, config.alpha, config.weight)
            shipped.append(_ranked(data.gain[test], data, test))
            adapted.append(_ranked(data.gain[test] + fitted.predict(data.terms[test]), data, test))
    ours, theirs = float(np.mean(adapted)), float(np.mean(shipped))
    return Guard("accepted" if ours >= theirs else "refused", theirs, ours, len(data), folds, config.guard_repeats)


def export(fitted: Fitted, data: Rows) -> dict[str, Any]:
    """The fitted tf-idf and scaled log-odds as the adapter's term table: (idf, weight) of each term a label had.
    The centring and scale fold into the intercept and weights: the decision path stays one dot product."""
    seen = np.unique(data.terms.indices)
    idf, coef = fitted.tfidf.idf_, fitted.scale * fitted.coef
    unseen = float(np.log((1 + len(data)) / 1) + 1)  # smooth_idf: a term with document frequency 0
    return {
        "intercept": round(fitted.scale * (fitted.intercept - fitted.centre), ROUND),
        "terms": {int(t): (round(float(idf[t]), ROUND), round(float(coef[t]), ROUND)) for t in seen},
        "unseen_idf": round(unseen, ROUND),
    }


def fit(labels: Sequence[Mapping[str, Any]], config: LearningConfig, now: float | None = None) -> Adapter:
    """The adapter fitted on every label, with the guard's verdict; its threshold is set by `calibrated`."""
    if len(labels) < config.min_labels:
        raise ValueError(f"{len(labels)} labels: at least learning.min_labels ({config.min_labels}) are needed")
    data = rows(labels)
    verdict = guard(data, config)
    weights = export(learn(data, np.arange(len(data)), config.alpha, config.weight), data)
    digest = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()[:16]
    created = round(time.time() if now is None else now, 3)
    return Adapter(threshold=0.5, guard=verdict.as_dict(), labels=len(labels), created=created, id=digest, **weights)


def calibrated(adapter: Adapter, outcomes: Sequence[Outcome], target: float) -> Adapter:
    """The adapter with the threshold that keeps `target` of these requests local under adapted scores."""
    threshold = threshold_for(outcomes, target)
    if threshold is None:
        raise ValueError("no request to calibrate the adapter's threshold on")
    return dataclasses.replace(adapter, threshold=round(threshold, 4))
