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


@dataclass(frozen=True)
class Tree:
    feature: tuple[int, ...]  # -1 at a leaf
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def predict(self, row: list[float]) -> float:
        node = 0
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        while feature[node] >= 0:
            node = left[node] if row[feature[node]] <= threshold[node] else right[node]
        return self.value[node]


@dataclass(frozen=True)
class NeedModel:
    names: tuple[str, ...]
    base: float
    trees: tuple[Tree, ...]
    scale: float
    offset: float

    @classmethod
    def from_dict(cls, model: dict[str, Any]) -> NeedModel:
        trees = tuple(
            Tree(*(tuple(tree[key]) for key in ("feature", "threshold", "left", "right", "value")))
            for tree in model["trees"]
        )
        return cls(tuple(model["features"]), float(model["base"]), trees, float(model["scale"]), float(model["offset"]))

    @classmethod
    def load(cls, path: Path) -> NeedModel:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def gain(self, text: str, turns: int = 1) -> float:
        """The ensemble's estimate of what escalating earns (strong - weak correctness)."""
        values = features(text, turns)
        row = [values.get(name, 0.0) for name in self.names]
        return self.base + sum(tree.predict(row) for tree in self.trees)

    def score(self, text: str, turns: int = 1) -> float:
        total = self.scale * self.gain(text, turns) + self.offset
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, total))))
