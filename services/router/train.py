"""Trains the router's two models and writes them into the router package:

- classifier.json: which tier a request's kind fits (local, power, creative), from router/training/{tier}.txt;
- need.json: the need model (router.need): boosted trees fitted with scikit-learn on the gain of escalating, from
  data/routellm-mmlu and training/need.txt, validated on whole MMLU domains held out from training (APGR);
- training/calibration.jsonl: the request sample `maximus route calibrate` sets need.threshold on.

    .venv/bin/python -m router.train [--folds 5]
    .venv/bin/maximus route calibrate services/router/training/calibration.jsonl

The public development set and MT-Bench are never used here (they are evaluation data). numpy and scikit-learn
(the `dev` extra) are needed only here, never at inference.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from router.classifier import TierClassifier
from router.config import PACKAGE_DIR, load_config
from router.features import extract, words_of
from router.keywords import KeywordRules

CLASSES = ["local", "power", "creative"]
TRAINING_DIR = PACKAGE_DIR / "training"
MODEL_PATH = PACKAGE_DIR / "classifier.json"


def load_examples(directory: Path = TRAINING_DIR) -> list[tuple[str, str]]:
    examples = []
    for tier in CLASSES:
        for line in (directory / f"{tier}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                examples.append((line.replace("\\n", "\n"), tier))
    return examples


def _matrix(texts: list[str], vocab: dict[str, int]) -> np.ndarray:
    x = np.zeros((len(texts), len(vocab)), dtype=np.float64)
    for row, text in enumerate(texts):
        for feature in extract(text):
            col = vocab.get(feature)
            if col is not None:
                x[row, col] += 1.0
    return x


def fit(examples: list[tuple[str, str]], l2: float = 0.02, steps: int = 600, lr: float = 0.5) -> dict:
    texts = [t for t, _ in examples]
    vocab: dict[str, int] = {}
    for text in texts:
        for feature in extract(text):
            vocab.setdefault(feature, len(vocab))
    x = _matrix(texts, vocab)
    y = np.zeros((len(texts), len(CLASSES)))
    for row, (_, tier) in enumerate(examples):
        y[row, CLASSES.index(tier)] = 1.0
    w = np.zeros((len(vocab), len(CLASSES)))
    b = np.zeros(len(CLASSES))
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    for step in range(1, steps + 1):  # Adam on the mean cross-entropy + L2
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - y) / len(texts)
        g_w = x.T @ grad + l2 * w
        g_b = grad.sum(axis=0)
        for g, m, v, param in ((g_w, m_w, v_w, w), (g_b, m_b, v_b, b)):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            param -= lr * 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    weights = {f: [round(float(v), 4) for v in w[i]] for f, i in vocab.items() if np.abs(w[i]).max() >= 0.005}
    return {"classes": CLASSES, "bias": [round(float(v), 4) for v in b], "weights": weights}


def cross_validate(examples: list[tuple[str, str]], folds: int, weights: tuple[float, ...]) -> dict[float, float]:
    """Accuracy of held-back folds, for each keyword-rule weight (routing.yaml classifier.keyword_weight)."""
    rules = KeywordRules(load_config().keywords)
    shuffled = examples[:]
    random.Random(7).shuffle(shuffled)
    correct = dict.fromkeys(weights, 0)
    for k in range(folds):
        test = shuffled[k::folds]
        model = fit([e for i, e in enumerate(shuffled) if i % folds != k])
        classifier = TierClassifier(model["classes"], model["bias"], model["weights"])
        for text, tier in test:
            matches = rules.matches(text, words_of(text))
            for weight in weights:
                boosts = {t: weight * n for t, n in matches.items()}
                correct[weight] += classifier.scores(text, boosts).best() == tier
    return {weight: n / len(shuffled) for weight, n in correct.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 to skip)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    examples = load_examples()
    print(
        f"{len(examples)} training prompts: "
        + ", ".join(f"{tier} {sum(t == tier for _, t in examples)}" for tier in CLASSES)
    )
    if args.folds:
        results = cross_validate(examples, args.folds, (0.0, 1.0, 1.5, 2.0, 3.0))
        print(
            f"{args.folds}-fold cross-validated accuracy by keyword weight: "
            + ", ".join(f"{w:g}: {acc:.1%}" for w, acc in results.items())
        )
    model = fit(examples)
    args.out.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True), encoding="utf-8")
    print(f"wrote {args.out} ({len(model['weights'])} features, {args.out.stat().st_size // 1024} KiB)")
    train_need(args.folds)


def train_need(folds: int) -> None:
    from router import need_data, need_train

    mmlu, written = need_data.mmlu(), need_data.written()
    print(f"need model: {len(mmlu)} MMLU questions (choice labels removed), {len(written)} written prompts")
    if folds:
        results = need_train.heldout_domain_apgr(mmlu, written, folds)
        print(
            f"  APGR on MMLU domains held out from training ({folds} folds by domain): "
            f"{sum(results) / len(results):.3f} (" + ", ".join(f"{r:.3f}" for r in results) + "); random 0.5"
        )
    need_train.write(need_train.fit(mmlu + written))
    print(f"wrote {need_train.NEED_PATH}")
    need_data.write_calibration_sample(examples_by_line())
    print(f"wrote {need_data.CALIBRATION_PATH}")


def examples_by_line() -> list[str]:
    """Every written training prompt (all tiers and need.txt), as texts for the calibration sample."""
    from router import need_data

    texts = [text for text, _ in load_examples()]
    return texts + [e.text for e in need_data.written() if e.text not in set(texts)]


if __name__ == "__main__":
    main()
