"""Accuracy helpers shared by the tests and bench.router: development set, held-out cases, MT-Bench."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.policy import RoutingPolicy

MTBENCH = Path(__file__).resolve().parents[2] / "data" / "routellm-mtbench"
SOVEREIGN = ("local", "vision")


@dataclass(frozen=True)
class Accuracy:
    correct: int
    total: int
    misses: list[str]

    @property
    def ratio(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def line(self, name: str) -> str:
        return f"{name}: {self.correct}/{self.total} = {self.ratio:.1%}"


def dev_cases() -> list[dict[str, Any]]:
    """The development set (tests/router/dev_cases.py), a fresh copy each call: callers may change it."""
    from tests.router.dev_cases import cases

    return copy.deepcopy(cases)


def score(policy: RoutingPolicy, cases: list[tuple[str, str, dict[str, Any]]]) -> Accuracy:
    """cases: (label, expected tier, request)."""
    misses = []
    for label, expect, body in cases:
        tier = policy.decide(body).tier
        if tier != expect:
            misses.append(f"{label}: expected {expect}, got {tier}")
    return Accuracy(len(cases) - len(misses), len(cases), misses)


def dev_accuracy(policy: RoutingPolicy) -> Accuracy:
    return score(policy, [(c["id"], c["expect"], c["request"]) for c in dev_cases()])


def heldout_accuracy(policy: RoutingPolicy) -> Accuracy:
    from tests.router.heldout_cases import tier_cases

    return score(policy, [(f"h{i:03d}", tier, body) for i, (tier, body) in enumerate(tier_cases())])


def private_kept_local(policy: RoutingPolicy, cases: list[tuple[str, dict[str, Any]]]) -> Accuracy:
    misses = []
    for kind, body in cases:
        decision = policy.decide(body)
        if not (decision.pinned_local and decision.tier in SOVEREIGN):
            misses.append(f"{kind}: went to {decision.tier}")
    return Accuracy(len(cases) - len(misses), len(cases), misses)


@dataclass(frozen=True)
class MTBenchResult:
    questions: int
    local_fraction: float
    retained_quality: float
    all_local_quality: float


def mtbench(policy: RoutingPolicy) -> MTBenchResult:
    """Per docs/reference/routing.md: a question kept local earns the weak model's score (mean of its turns),
    otherwise the strong one's; power and creative both count as strong. The first turn is routed."""
    questions = {}
    for line in (MTBENCH / "question.jsonl").read_text().splitlines():
        q = json.loads(line)
        questions[q["question_id"]] = q
    earned = strong_total = weak_total = 0.0
    local = 0
    for line in (MTBENCH / "scores.jsonl").read_text().splitlines():
        s = json.loads(line)
        strong = sum(s["strong"].values()) / len(s["strong"])
        weak = sum(s["weak"].values()) / len(s["weak"])
        body = {"model": "max-auto", "messages": [{"role": "user", "content": questions[s["question_id"]]["turns"][0]}]}
        kept_local = policy.decide(body).tier in SOVEREIGN
        local += kept_local
        earned += weak if kept_local else strong
        strong_total += strong
        weak_total += weak
    n = len(questions)
    return MTBenchResult(n, local / n, earned / strong_total, weak_total / strong_total)
