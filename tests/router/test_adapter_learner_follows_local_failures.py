"""router.adapter_train's learner: it raises the need of requests worded like the labels the local model failed,
lowers it for those worded like the ones it passed, by `weight` spreads of the need model's gain on the labels;
labels with one outcome only teach it nothing; an unknown local outcome counts at its prior."""

from __future__ import annotations

import numpy as np
import pytest

from router.adapter_train import LOCAL_PRIOR, learn, rows
from router.labels import label_vector
from router.need_data import mmlu

HARD, EASY = "global_facts", "high_school_biology"


def _questions(domain: str) -> list[str]:
    return [e.text for e in mmlu() if e.group == domain]


def _labels(local_ok: list[bool | None]) -> list[dict]:
    texts = _questions(HARD)[:30] + _questions(EASY)[:30]
    return [{"x": label_vector(t), "local_ok": ok, "strong_ok": True} for t, ok in zip(texts, local_ok, strict=True)]


def test_requests_like_the_failed_labels_gain_need_and_like_the_passed_ones_lose_it() -> None:
    data = rows(_labels([False] * 30 + [True] * 30))
    fitted = learn(data, np.arange(len(data)), alpha=0.1, weight=0.3)
    unseen_hard = rows([{"x": label_vector(t)} for t in _questions(HARD)[30:50]])
    unseen_easy = rows([{"x": label_vector(t)} for t in _questions(EASY)[30:50]])
    hard, easy = fitted.predict(unseen_hard.terms), fitted.predict(unseen_easy.terms)
    assert hard.mean() > 0 > easy.mean() and (hard > 0).mean() >= 0.8 and (easy < 0).mean() >= 0.8


@pytest.mark.parametrize("weight", [0.1, 0.3, 1.0])
def test_the_adapter_moves_the_labels_by_weight_spreads_of_the_need_models_gain(weight: float) -> None:
    data = rows(_labels([False] * 30 + [True] * 30))
    delta = learn(data, np.arange(len(data)), alpha=0.1, weight=weight).predict(data.terms)
    assert delta.mean() == pytest.approx(0.0, abs=1e-9)
    assert delta.std() == pytest.approx(weight * data.gain.std(), rel=1e-6)


def test_labels_with_one_outcome_leave_the_need_models_ranking() -> None:
    data = rows(_labels([True] * 60))
    assert not learn(data, np.arange(len(data)), alpha=0.1, weight=0.3).predict(data.terms).any()


def test_an_unknown_local_outcome_counts_at_its_prior() -> None:
    # Half the HARD labels unknown: they weigh as LOCAL_PRIOR passed, so HARD still reads as worse than EASY, by
    # less than when every HARD label is known to have failed.
    known = rows(_labels([False] * 30 + [True] * 30))
    partly = rows(_labels([False] * 15 + [None] * 15 + [True] * 30))
    assert partly.failed[15] == pytest.approx(1 - LOCAL_PRIOR)
    hard = rows([{"x": label_vector(t)} for t in _questions(HARD)[30:50]]).terms
    easy = rows([{"x": label_vector(t)} for t in _questions(EASY)[30:50]]).terms

    def separation(data) -> float:
        fitted = learn(data, np.arange(60), alpha=0.1, weight=0.3)
        return float(fitted.log_odds(hard).mean() - fitted.log_odds(easy).mean())

    assert 0 < separation(partly) < separation(known)
