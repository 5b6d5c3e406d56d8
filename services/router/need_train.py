"""Fits the need model (router.need) with scikit-learn and validates it across MMLU domains.

Training needs scikit-learn (the `dev` extra); the gateway only reads the exported need.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from router.config import PACKAGE_DIR
from router.need_data import Example, apgr
from router.need_features import features

NEED_PATH = PACKAGE_DIR / "need.json"
WRITTEN_WEIGHT = 20.0  # 75 written prompts against ~10,000 MMLU rows: each counts as much as 20 rows
REGULARISATION = 0.1  # LogisticRegression C, chosen on held-out domains (python -m router.train --need-sweep)


def _weights(examples: Sequence[Example]) -> np.ndarray:
    return np.array([WRITTEN_WEIGHT if e.group == "written" else 1.0 for e in examples])


def fit(examples: Sequence[Example], c: float = REGULARISATION) -> dict:
    """The exported model: bias and a weight per feature name (the DictVectorizer's vocabulary)."""
    vectoriser = DictVectorizer()
    x = vectoriser.fit_transform([features(e.text) for e in examples])
    y = np.array([e.need for e in examples])
    model = LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=_weights(examples))
    names = vectoriser.get_feature_names_out()
    return {
        "bias": round(float(model.intercept_[0]), 6),
        "weights": {str(n): round(float(w), 6) for n, w in zip(names, model.coef_[0], strict=True)},
    }


def _score(model: dict, text: str) -> float:
    return model["bias"] + sum(model["weights"].get(n, 0.0) * v for n, v in features(text).items())


def domain_folds(mmlu: Sequence[Example], folds: int = 5) -> list[tuple[list[int], list[int]]]:
    """(train, test) indices with whole domains on the test side (GroupKFold by domain)."""
    split = GroupKFold(folds).split(mmlu, groups=[e.group for e in mmlu])
    return [(list(train), list(test)) for train, test in split]


def heldout_domain_apgr(
    mmlu: Sequence[Example], written: Sequence[Example], folds: int = 5, c: float = REGULARISATION
) -> list[float]:
    """APGR on whole MMLU domains held out from training (GroupKFold by domain), one figure per fold."""
    results = []
    for train, test in domain_folds(mmlu, folds):
        model = fit([mmlu[i] for i in train] + list(written), c)
        held = [mmlu[i] for i in test]
        results.append(apgr([_score(model, e.text) for e in held], [e.weak for e in held], [e.strong for e in held]))
    return results


def write(model: dict, path: Path = NEED_PATH) -> None:
    path.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
