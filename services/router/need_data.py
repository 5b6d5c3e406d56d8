"""Training and evaluation data of the need model: RouteLLM's MMLU correctness (data/routellm-mmlu, Apache-2.0)
and prompts written for this project (router/training/need.txt, local.txt).

MMLU is multiple choice and no live request is: the choice labels and the trailing "Answer:" are removed so the
model learns the question's difficulty, not its format (a format feature would send every quiz to the cloud)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from router.config import PACKAGE_DIR
from router.need_features import split_options

REPO = PACKAGE_DIR.parents[1]
MMLU = REPO / "data" / "routellm-mmlu" / "mmlu.jsonl"
TRAINING_DIR = PACKAGE_DIR / "training"
CALIBRATION_PATH = TRAINING_DIR / "calibration.jsonl"
CALIBRATION_MMLU = 300  # quiz-like questions in the calibration sample, beside the written prompts
# Domains whose labels are an artefact of answer parsing, not of difficulty (GPT-4 scores 3% on high-school
# mathematics there, below chance): kept out of training and evaluation.
ARTEFACT_DOMAINS = frozenset({"high_school_mathematics"})
_CHOICE = re.compile(r"^\s*[A-D][.)]\s*", re.M)
_ANSWER = re.compile(r"\s*Answer:\s*$")


@dataclass(frozen=True)
class Example:
    text: str
    need: int  # 1: the local answer falls short and the strong tier does better
    group: str  # MMLU domain, or "written" for this project's prompts
    weak: float = 0.0  # correctness (MMLU) of the weak and strong model, for APGR
    strong: float = 0.0


def plain_question(prompt: str) -> str:
    """An MMLU prompt as a user would type it: the stem, then the options as plain lines."""
    return _CHOICE.sub("", _ANSWER.sub("", prompt)).strip()


def asks_only(examples: Sequence[Example]) -> list[Example]:
    """Each MMLU question without its options: live requests seldom list choices, and a model that only saw
    questions with options would guess at requests without them (it scored every MT-Bench prompt above 0.9)."""
    return [replace(e, text=split_options(e.text)[0]) for e in examples if e.group != "written"]


def mmlu(path: Path = MMLU) -> list[Example]:
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["domain"] in ARTEFACT_DOMAINS:
            continue
        weak, strong = bool(row["weak_correct"]), bool(row["strong_correct"])
        examples.append(Example(plain_question(row["prompt"]), int(strong and not weak), row["domain"], weak, strong))
    return examples


def written(directory: Path = TRAINING_DIR) -> list[Example]:
    """need.txt: "<0|1><TAB>prompt" lines written for this project; local.txt: everyday prompts, need 0."""
    examples = []
    for line in (directory / "need.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, _, text = line.partition("\t")
            examples.append(Example(text.replace("\\n", "\n"), int(label), "written"))
    for line in (directory / "local.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            examples.append(Example(line.replace("\\n", "\n"), 0, "written"))
    return examples


def write_calibration_sample(written_texts: list[str], path: Path = CALIBRATION_PATH) -> None:
    """The sample `maximus route calibrate` sets the shipped threshold on: the written prompts of every tier and
    a fixed draw of MMLU questions, as chat-completion bodies, one a line."""
    questions = [e.text for e in mmlu()]
    texts = written_texts + random.Random(17).sample(questions, CALIBRATION_MMLU)
    lines = [json.dumps({"model": "max-auto", "messages": [{"role": "user", "content": t}]}) for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def apgr(scores: list[float], weak: list[float], strong: list[float], steps: int = 100) -> float:
    """RouteLLM's average performance gap recovered: escalate the top k% by score for k = 0..100; the area under
    that quality curve, as a share of the gap between all-weak and all-strong (0.5 random, ~1 perfect)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    n = len(order)
    base, top = sum(weak) / n, sum(strong) / n
    gains = [0.0]
    for i in order:
        gains.append(gains[-1] + strong[i] - weak[i])
    curve = [base + gains[round(k * n / steps)] / n for k in range(steps + 1)]
    area = (sum(curve) - (curve[0] + curve[-1]) / 2) / steps  # trapezoids over k in 0..1
    return (area - base) / (top - base) if top != base else 0.0
