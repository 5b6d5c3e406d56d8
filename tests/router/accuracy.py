"""Accuracy helpers shared by the tests and bench.router: development set, held-out cases, MT-Bench, the local
share of a mixed request stream. Tier definitions: docs/reference/routing.md (local by default; `expect` names the
strong tier that fits a request if it is escalated)."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.policy import RoutingPolicy
from router.sovereignty import Outcome, ThresholdController

MTBENCH = Path(__file__).resolve().parents[2] / "data" / "routellm-mtbench"
SOVEREIGN = ("local", "vision")
PRIVATE_KINDS = ("secret", "pii", "private")
ESCALATE_ALL = 0.0  # a threshold every score reaches: the tier a request goes to when it is escalated


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


def score(
    policy: RoutingPolicy, cases: list[tuple[str, str, dict[str, Any]]], threshold: float | None = None
) -> Accuracy:
    """cases: (label, expected tier, request); threshold: the need threshold (None: the calibrated one)."""
    misses = []
    for label, expect, body in cases:
        tier = policy.decide(body, threshold=threshold).tier
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
class DevTargets:
    """The issue's development-set targets."""

    private: Accuracy  # private cases kept local (pinned): 100%
    images: Accuracy  # image requests to vision: 100%
    plain_local: Accuracy  # cases labelled local, not private: >= 95% local
    escalated: Accuracy  # labelled power/creative and escalated by the router: the right strong tier, >= 90%
    strong_kind: Accuracy  # every power/creative case, forced to escalate: the right strong tier


def _kept_local(policy: RoutingPolicy, cases: list[dict[str, Any]]) -> Accuracy:
    return score(policy, [(c["id"], "local", c["request"]) for c in cases])


def dev_targets(policy: RoutingPolicy, threshold: float | None = None) -> DevTargets:
    cases = dev_cases()
    private = [c for c in cases if c["kind"].startswith(PRIVATE_KINDS)]
    images = [(c["id"], "vision", c["request"]) for c in cases if c["expect"] == "vision"]
    plain = [c for c in cases if c["expect"] == "local" and c not in private]
    strong = [c for c in cases if c["expect"] in ("power", "creative")]
    escalated = [c for c in strong if policy.decide(c["request"], threshold=threshold).tier not in SOVEREIGN]
    return DevTargets(
        private=private_kept_local(policy, [(c["id"], c["request"]) for c in private]),
        images=score(policy, images),
        plain_local=_kept_local(policy, plain),
        escalated=score(policy, [(c["id"], c["expect"], c["request"]) for c in escalated], threshold),
        strong_kind=Accuracy(
            sum(policy.decide(c["request"], threshold=ESCALATE_ALL).tier == c["expect"] for c in strong),
            len(strong),
            [],
        ),
    )


def mmlu_questions(n: int, seed: int) -> list[str]:
    """A fixed draw of MMLU questions as users would type them (choice labels removed)."""
    from router.need_data import mmlu

    return [e.text for e in random.Random(seed).sample(mmlu(), n)]


def mixed_stream(seed: int = 29) -> list[dict[str, Any]]:
    """A mixed request stream, none of it the calibration sample: the development set, the held-out cases and
    private cases, MT-Bench first turns and MMLU questions, in a shuffled order."""
    from tests.router.heldout_cases import private_cases, tier_cases

    bodies = [c["request"] for c in dev_cases()] + [b for _, b in tier_cases()] + [b for _, b in private_cases()]
    texts = [q["turns"][0] for q in _questions().values()] + mmlu_questions(200, seed)
    bodies += [{"model": "max-auto", "messages": [{"role": "user", "content": t}]} for t in texts]
    random.Random(seed).shuffle(bodies)
    return bodies


def stream_local_share(policy: RoutingPolicy, bodies: list[dict[str, Any]], online: bool = False) -> float:
    """The sovereign share of a stream at the calibrated threshold, or (online) with the hook's controller."""
    config = policy.config
    controller = ThresholdController(config.need.threshold, config.sovereignty_target, config.online)
    kept = 0
    for body in bodies:
        decision = policy.decide(body, threshold=controller.current if online else None)
        sovereign = decision.tier in SOVEREIGN
        kept += sovereign
        controller.observe(Outcome(decision.score if decision.scored else None, sovereign))
    return kept / len(bodies)


def _questions() -> dict[int, dict[str, Any]]:
    questions = {}
    for line in (MTBENCH / "question.jsonl").read_text().splitlines():
        q = json.loads(line)
        questions[q["question_id"]] = q
    return questions


@dataclass(frozen=True)
class MTBenchResult:
    questions: int
    local_fraction: float
    retained_quality: float
    all_local_quality: float


def mtbench(policy: RoutingPolicy) -> MTBenchResult:
    """Per docs/reference/routing.md: a question kept local earns the weak model's score (mean of its turns),
    otherwise the strong one's; power and creative both count as strong. The first turn is routed."""
    return mtbench_at(policy, None)


def mtbench_at(policy: RoutingPolicy, threshold: float | None) -> MTBenchResult:
    """MT-Bench with the need threshold given (None: the calibrated one)."""
    questions = _questions()
    earned = strong_total = weak_total = 0.0
    local = 0
    for line in (MTBENCH / "scores.jsonl").read_text().splitlines():
        s = json.loads(line)
        strong = sum(s["strong"].values()) / len(s["strong"])
        weak = sum(s["weak"].values()) / len(s["weak"])
        body = {"model": "max-auto", "messages": [{"role": "user", "content": questions[s["question_id"]]["turns"][0]}]}
        kept_local = policy.decide(body, threshold=threshold).tier in SOVEREIGN
        local += kept_local
        earned += weak if kept_local else strong
        strong_total += strong
        weak_total += weak
    n = len(questions)
    return MTBenchResult(n, local / n, earned / strong_total, weak_total / strong_total)


def mtbench_threshold_for_local(policy: RoutingPolicy, local_share: float) -> float:
    """The threshold that keeps `local_share` of MT-Bench's first turns local (RouteLLM's operating point)."""
    scores = sorted(
        policy.need_score(b, b["messages"][0]["content"])
        for b in ({"messages": [{"role": "user", "content": q["turns"][0]}]} for q in _questions().values())
    )
    keep = round(local_share * len(scores))
    return scores[keep] if keep < len(scores) else 1.0
