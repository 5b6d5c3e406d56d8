"""The benign set for the privacy guard's false-positive rate: every MMLU prompt (data/routellm-mmlu) and every
MT-Bench turn (data/routellm-mtbench), both copied into the repository with their license (data/README.md).
None of them holds a secret or a person's data, so every prompt the guard flags is a false positive."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"
MMLU = DATA / "routellm-mmlu" / "mmlu.jsonl"
MTBENCH = DATA / "routellm-mtbench" / "question.jsonl"


def mmlu_prompts() -> list[str]:
    return [json.loads(line)["prompt"] for line in MMLU.read_text().splitlines() if line.strip()]


def mtbench_prompts() -> list[str]:
    turns = [json.loads(line)["turns"] for line in MTBENCH.read_text().splitlines() if line.strip()]
    return [turn for pair in turns for turn in pair]


def benign_prompts() -> list[str]:
    return mmlu_prompts() + mtbench_prompts()
