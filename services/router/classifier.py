"""Tier classifier: a multinomial logistic model over words, stems, word pairs and shape features, trained by
router.train on prompts written for each tier and shipped as classifier.json. Pure Python at inference."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from router.features import STEM_LEN, extract, opener_features, shape_features, words_of

_NO_PAIRS: dict[str, tuple[float, ...]] = {}


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
        # The hot path's views of the same weights: stems without their "s:" and word pairs by first word, so that
        # scoring looks words up as they are (their hashes are cached) instead of building a string per feature.
        self._stems = {f[2:]: row for f, row in self.weights.items() if f.startswith("s:")}
        self._pairs: dict[str, dict[str, tuple[float, ...]]] = {}
        for feature, row in self.weights.items():
            if " " in feature and ":" not in feature:  # words hold neither; opener and shape features hold ":"
                first, second = feature.split(" ", 1)
                self._pairs.setdefault(first, {})[second] = row
        # Per word of the model's vocabulary (its own features, pairs it starts): (its row, its stem's row, the
        # pairs it starts), one lookup on the hot path instead of three and a slice. A word outside it has no row
        # and starts no pair; only its stem and the pair it ends can weigh.
        vocabulary = {f for f in self.weights if ":" not in f and " " not in f} | set(self._pairs)
        self._vocabulary = {
            word: (
                self.weights.get(word),
                self._stems.get(word[:STEM_LEN]) if len(word) > STEM_LEN else None,
                self._pairs.get(word, _NO_PAIRS),
            )
            for word in vocabulary
        }

    @classmethod
    def load(cls, path: Path) -> TierClassifier:
        model = json.loads(path.read_text(encoding="utf-8"))
        return cls(model["classes"], model["bias"], model["weights"])

    def raw_totals(self, text: str, words: list[str] | None = None) -> list[float]:
        """Bias plus the weights of every feature of router.features.extract (reference implementation)."""
        totals = list(self.bias)
        for feature in extract(text, words):
            row = self.weights.get(feature)
            if row is not None:
                totals = [t + w for t, w in zip(totals, row, strict=True)]
        return totals

    def _totals(self, text: str, words: list[str] | None) -> list[float]:
        """Same sum, in the same order, as raw_totals without building the feature list (the hot path: ~3x
        faster)."""
        words = words_of(text) if words is None else words
        get, stem_get, known = self.weights.get, self._stems.get, self._vocabulary.get
        a, b, c = self.bias
        for feature in shape_features(text, len(words)) + opener_features(words):
            row = get(feature)
            if row is not None:
                a, b, c = a + row[0], b + row[1], c + row[2]
        after: dict[str, tuple[float, ...]] = {}  # pairs that start with the previous word
        for word in words:
            entry = known(word)
            if entry is None:
                stem = stem_get(word[:STEM_LEN]) if len(word) > STEM_LEN else None
                if stem is not None:
                    a, b, c = a + stem[0], b + stem[1], c + stem[2]
                next_after = _NO_PAIRS
            else:
                row, stem, next_after = entry
                if row is not None:
                    a, b, c = a + row[0], b + row[1], c + row[2]
                if stem is not None:
                    a, b, c = a + stem[0], b + stem[1], c + stem[2]
            row = after.get(word)
            if row is not None:
                a, b, c = a + row[0], b + row[1], c + row[2]
            after = next_after
        return [a, b, c]

    def scores(self, text: str, boosts: dict[str, float] | None = None, words: list[str] | None = None) -> TierScores:
        totals = self._totals(text, words)
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
