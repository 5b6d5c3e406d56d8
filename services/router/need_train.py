"""Fits the need model (router.need) with scikit-learn and validates it across MMLU domains.

The model is a gradient-boosted ensemble of small regression trees on router.need_features, fitted to the gain of
escalating (strong correct - weak correct: APGR rewards ranking by expected gain, and this target beat "strong and
not weak" and "weak wrong" on held-out domains), then a logistic map from the ensemble's output to the
probability of need (strong and not weak), so the score reads as that probability and the ranking is unchanged.
Training needs scikit-learn (the `dev` extra); the gateway only reads the exported need.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from router.config import PACKAGE_DIR
from router.need import NeedModel
from router.need_data import Example, apgr, asks_only
from router.need_features import features

NEED_PATH = PACKAGE_DIR / "need.json"
WRITTEN_WEIGHT = 20.0  # 75 written prompts against ~10,000 MMLU rows: each counts as much as 20 rows
# Chosen on the held-out-domain folds' mean (see the README's need-model section for the figures).
BOOSTING = {
    "n_estimators": 100,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 50,
    "max_features": 0.5,
    "random_state": 0,
}


def _gain(example: Example) -> float:
    """What escalating this prompt earns: MMLU's strong - weak correctness; a written prompt's need label."""
    return example.strong - example.weak if example.group != "written" else float(example.need)


def _matrix(examples: Sequence[Example], names: Sequence[str]) -> np.ndarray:
    rows = [features(e.text) for e in examples]
    return np.array([[row.get(name, 0.0) for name in names] for row in rows])


def _export_tree(tree) -> dict:
    """One fitted sklearn tree (its public tree_ arrays) as lists the gateway walks: x[feature] <= threshold
    goes left; a leaf has feature -1 and its value."""
    t = tree.tree_
    return {
        "feature": [int(f) for f in t.feature],
        "threshold": [round(float(v), 6) for v in t.threshold],
        "left": [int(i) for i in t.children_left],
        "right": [int(i) for i in t.children_right],
        "value": [round(float(v), 6) for v in t.value[:, 0, 0]],
    }


def boost(examples: Sequence[Example]) -> tuple[list[str], GradientBoostingRegressor, LogisticRegression]:
    """The fitted scikit-learn models: feature names, the boosted trees on the gain, the logistic map to need.
    The MMLU questions are fitted twice, with and without their options (need_data.asks_only)."""
    examples = list(examples) + asks_only(examples)
    names = sorted({name for e in examples for name in features(e.text)})
    x = _matrix(examples, names)
    weights = np.array([WRITTEN_WEIGHT if e.group == "written" else 1.0 for e in examples])
    boosted = GradientBoostingRegressor(**BOOSTING).fit(x, [_gain(e) for e in examples], sample_weight=weights)
    raw = boosted.predict(x).reshape(-1, 1)
    platt = LogisticRegression(max_iter=1000).fit(raw, [e.need for e in examples], sample_weight=weights)
    return names, boosted, platt


def export(names: Sequence[str], boosted: GradientBoostingRegressor, platt: LogisticRegression) -> dict:
    """need.json: feature names, the trees (leaf values scaled by the learning rate) and the probability map."""
    rate = boosted.learning_rate
    trees = [_export_tree(stage[0]) for stage in boosted.estimators_]
    for tree in trees:
        tree["value"] = [round(v * rate, 6) for v in tree["value"]]
    return {
        "features": list(names),
        "base": round(float(boosted.init_.constant_[0, 0]), 6),
        "trees": trees,
        "scale": round(float(platt.coef_[0, 0]), 6),
        "offset": round(float(platt.intercept_[0]), 6),
    }


def fit(examples: Sequence[Example]) -> dict:
    """The exported model fitted on these examples."""
    return export(*boost(examples))


def domain_folds(mmlu: Sequence[Example], folds: int = 5) -> list[tuple[list[int], list[int]]]:
    """(train, test) indices with whole domains on the test side (GroupKFold by domain)."""
    split = GroupKFold(folds).split(mmlu, groups=[e.group for e in mmlu])
    return [(list(train), list(test)) for train, test in split]


def fold_models(
    mmlu: Sequence[Example], written: Sequence[Example], folds: int = 5
) -> list[tuple[NeedModel, list[int]]]:
    """For each domain fold: the exported model fitted without its domains, and the indices of those domains."""
    return [
        (NeedModel.from_dict(fit([mmlu[i] for i in train] + list(written))), test)
        for train, test in domain_folds(mmlu, folds)
    ]


def heldout_domain_apgr(
    mmlu: Sequence[Example],
    written: Sequence[Example],
    folds: int = 5,
    models: list[tuple[NeedModel, list[int]]] | None = None,
) -> list[float]:
    """APGR on whole MMLU domains held out from training (GroupKFold by domain), one figure per fold, scored by
    the exported model exactly as the gateway scores (router.need). `models`: fold_models already fitted."""
    results = []
    for model, test in models or fold_models(mmlu, written, folds):
        held = [mmlu[i] for i in test]
        results.append(apgr([model.score(e.text) for e in held], [e.weak for e in held], [e.strong for e in held]))
    return results


def write(model: dict, path: Path = NEED_PATH) -> None:
    path.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
