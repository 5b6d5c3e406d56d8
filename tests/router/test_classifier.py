"""The shipped classifier: the fast scoring path equals the reference feature sum; the model file is small."""

from __future__ import annotations

import random

import pytest

from router.classifier import TierClassifier
from router.features import _WORD, HEAD_CHARS, TAIL_CHARS, words_of
from tests.router.heldout_cases import CREATIVE, LOCAL, POWER

TEXTS = [
    "hi",
    "Write a Python function that merges two sorted lists.\n```python\ndef merge(a, b): ...\n```\nwith tests?",
    "Écris un poème sur la pluie à Paris.",
    "word " * 2000 + "final question: why does my build fail?",
    "",
]


@pytest.fixture(scope="module")
def classifier(config) -> TierClassifier:
    return TierClassifier.load(config.classifier.model_file)


@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_equals_reference_sum(classifier: TierClassifier, text: str) -> None:
    fast = classifier._totals(text, words_of(text))
    reference = classifier.raw_totals(text)
    assert fast == pytest.approx(reference)


def test_fast_path_sums_exactly_what_the_reference_sums(classifier: TierClassifier) -> None:
    # Same features in the same order (word, its stem, the pair it ends): the very same floats, on prompts mixing
    # words of the model's vocabulary with words outside it.
    rng = random.Random(5)
    pool = LOCAL + POWER + CREATIVE
    for _ in range(300):
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
        assert classifier._totals(text, words_of(text)) == classifier.raw_totals(text), text


def test_model_file_is_small_and_scores_three_tiers(config, classifier: TierClassifier) -> None:
    assert config.classifier.model_file.stat().st_size < 1_000_000
    assert classifier.classes == ["local", "power", "creative"]
    probabilities = classifier.scores("hello").probabilities
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_keyword_boost_moves_the_decision(classifier: TierClassifier) -> None:
    text = "tell me about lighthouses"
    plain = classifier.scores(text).probabilities["creative"]
    boosted = classifier.scores(text, {"creative": 4.0}).probabilities["creative"]
    assert boosted > plain


@pytest.mark.parametrize("text", [*TEXTS, "C++ and C# don't mix: x_y 3.14 #tag", "naïve café", "a'b'c +1 #2"])
def test_words_are_the_unicode_patterns_words(text: str) -> None:
    # words_of reads ASCII text with an ASCII pattern: it must find exactly what the Unicode one finds.
    lower = text.lower()
    if len(lower) > HEAD_CHARS + TAIL_CHARS:
        lower = lower[:HEAD_CHARS] + " \n " + lower[-TAIL_CHARS:]
    assert words_of(text) == _WORD.findall(lower)
