"""Tier classifier: a multinomial logistic model over words, stems, word pairs and shape features, trained by
router.train on prompts written for each tier and shipped as classifier.json. Pure Python at inference."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from router.features import extract, words_of


@dataclass(frozen=True)
class TierScores:
    scores: dict[str, float]  # log-odds-like scores per tier
    probabilities: dict[str, float]

    def best(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)


class TierClassifier:
    def __init__(self, classes: list[str], bias: list[float], weights: dict[str, list[float]]) -> None:
        if len(classes) != 3:
            raise ValueError("the tier classifier scores exactly three tiers (local, power, creative)")
        self.classes = classes
        self.bias = bias
        self.weights = {feature: tuple(row) for feature, row in weights.items()}

    @classmethod
    def load(cls, path: Path) -> TierClassifier:
        model = json.loads(path.read_text(encoding="utf-8"))
        return cls(model["classes"], model["bias"], model["weights"])

    def scores(self, text: str, boosts: dict[str, float] | None = None, words: list[str] | None = None) -> TierScores:
        a, b, c = self.bias
        get = self.weights.get
        for feature in extract(text, words):
            row = get(feature)
            if row is not None:
                a += row[0]
                b += row[1]
                c += row[2]
        totals = [a, b, c]
        if boosts:
            for i, name in enumerate(self.classes):
                totals[i] += boosts.get(name, 0.0)
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        norm = sum(exps)
        return TierScores(
            dict(zip(self.classes, totals, strict=True)),
            {name: e / norm for name, e in zip(self.classes, exps, strict=True)},
        )
