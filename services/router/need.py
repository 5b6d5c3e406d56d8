"""The need model: the probability that the local answer falls short and a strong tier does clearly better.

Gradient-boosted regression trees fitted by scikit-learn (router.need_train, `python -m router.train`) on the gain
of escalating, mapped to a probability by a fitted logistic; shipped as need.json and walked here in pure Python,
so a decision costs microseconds and the gateway needs no scikit-learn at run time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.need_features import features

# One tree as parallel arrays (sklearn's tree_ layout): feature (-1 at a leaf), threshold, left, right, value.
Tree = tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...], tuple[int, ...], tuple[float, ...]]
_TREE_KEYS = ("feature", "threshold", "left", "right", "value")


@dataclass(frozen=True)
class NeedModel:
    names: tuple[str, ...]
    base: float
    trees: tuple[Tree, ...]
    scale: float
    offset: float

    @classmethod
    def from_dict(cls, model: dict[str, Any]) -> NeedModel:
        trees = tuple(tuple(tuple(tree[key]) for key in _TREE_KEYS) for tree in model["trees"])
        return cls(tuple(model["features"]), float(model["base"]), trees, float(model["scale"]), float(model["offset"]))

    @classmethod
    def load(cls, path: Path) -> NeedModel:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def gain(self, text: str, turns: int = 1) -> float:
        """The ensemble's estimate of what escalating earns (strong - weak correctness)."""
        return self.gain_of(features(text, turns))

    def gain_of(self, values: dict[str, float]) -> float:
        """The same estimate from features already computed (router.need_features.features)."""
        row = [values.get(name, 0.0) for name in self.names]
        total = self.base
        for feature, threshold, left, right, value in self.trees:  # inline: a call per tree doubles the cost
            node = 0
            while feature[node] >= 0:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += value[node]
        return total

    def score(self, text: str, turns: int = 1) -> float:
        return self.probability(self.gain(text, turns))

    def probability(self, gain: float) -> float:
        """The probability of need for an estimated gain (the fitted logistic map)."""
        total = self.scale * gain + self.offset
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, total))))
