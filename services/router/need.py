"""The need model: the probability that the local answer falls short and a strong tier does clearly better.

A logistic regression fitted by scikit-learn (router.train) and shipped as need.json (bias and one weight per
feature name of router.need_features); evaluated here in pure Python, so a decision costs microseconds and the
gateway needs no scikit-learn at run time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from router.need_features import features


@dataclass(frozen=True)
class NeedModel:
    bias: float
    weights: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> NeedModel:
        model = json.loads(path.read_text(encoding="utf-8"))
        return cls(float(model["bias"]), {str(k): float(v) for k, v in model["weights"].items()})

    def score(self, text: str, turns: int = 1) -> float:
        get = self.weights.get
        total = self.bias + sum(get(name, 0.0) * value for name, value in features(text, turns).items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, total))))
