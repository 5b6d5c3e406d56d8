"""The need model: the exported trees score exactly as scikit-learn's fit predicts, `python -m router.train`
reproduces the shipped need.json, and the options-block features read what a request lists."""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("sklearn", reason="the need model is trained with scikit-learn (the dev extra)")

from router import need_data, need_train
from router.need import NeedModel
from router.need_features import features, split_options


@pytest.fixture(scope="module")
def mmlu() -> list[need_data.Example]:
    return need_data.mmlu()


def test_exported_trees_score_as_scikit_learn_predicts(mmlu) -> None:
    sample = random.Random(3).sample(mmlu, 800) + need_data.written()
    names, boosted, platt = need_train.boost(sample)
    model = NeedModel.from_dict(need_train.export(names, boosted, platt))
    probes = [e.text for e in random.Random(4).sample(mmlu, 60)] + ["hi", "Prove that sqrt(2) is irrational."]
    rows = [[features(text).get(name, 0.0) for name in names] for text in probes]
    expected = boosted.predict(rows)
    walked = [model.gain(text) for text in probes]
    assert max(abs(a - b) for a, b in zip(walked, expected, strict=True)) < 1e-3
    # The probability map keeps the ranking: a higher gain is a higher score.
    by_gain = sorted(probes, key=model.gain)
    assert [model.score(t) for t in by_gain] == sorted(model.score(t) for t in by_gain)
    assert len(set(expected)) > 5, "the fitted trees separate prompts"


def test_training_reproduces_the_shipped_model(mmlu) -> None:
    shipped = json.loads(need_train.NEED_PATH.read_text(encoding="utf-8"))
    assert need_train.fit(mmlu + need_data.written()) == shipped


def test_options_block_is_read_from_short_trailing_lines() -> None:
    quiz = "Which load is heaviest?\n12 kg\n3 kg\n7 kg\n1 kg"
    ask, options = split_options(quiz)
    assert ask == "Which load is heaviest?"
    assert options == ["12 kg", "3 kg", "7 kg", "1 kg"]
    assert features(quiz)["f:option_numeric"] == 1.0
    pairs = features("Is each act wrong?\nWrong, Wrong\nWrong, Not wrong\nNot wrong, Wrong\nNot wrong, Not wrong")
    assert pairs["f:option_pair"] == 1.0 and pairs["f:option_numeric"] == 0.0


def test_prose_has_no_options_block() -> None:
    prose = "Summarise this paragraph for me, please. " * 10
    assert split_options(prose) == (prose, [])
    assert not any(name.startswith("f:option_") for name in features(prose))
    # One long trailing line after the ask is part of the request, not a list of choices.
    assert split_options("Fix this:\n" + "x" * 400)[1] == []


def test_every_mmlu_question_has_an_ask_without_its_options(mmlu) -> None:
    asks = need_data.asks_only(mmlu[:50] + need_data.written()[:5])
    assert len(asks) == 50
    for ask, question in zip(asks, mmlu, strict=False):
        assert len(ask.text) < len(question.text) and ask.text.split("\n")[0] == question.text.split("\n")[0]
        assert (ask.need, ask.weak, ask.strong, ask.group) == (
            question.need,
            question.weak,
            question.strong,
            question.group,
        )
