"""Router quality and speed, against the original keyword-substring router measured in the same run.

1. Tier accuracy on the development set (tests/router/dev_cases.py) and on held-out cases written
   apart from the training prompts (tests/router/heldout_cases.py); private cases kept local.
2. MT-Bench (data/routellm-mtbench): local fraction and retained quality as defined in
   docs/reference/routing.md (power and creative both count as the strong side), beside RouteLLM's published
   74-86% local at 95% quality.
3. Decision latency, privacy guard included, on distinct prompts of 20 to 4,000 characters (no cache hits):
   p50 and p99 wall time, and thread CPU time (less sensitive to other processes on a shared machine).

    .venv/bin/python -m bench.router [--decisions N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from collections.abc import Callable
from typing import Any

from router.config import load_config
from router.policy import RoutingPolicy
from router.request import last_user_text, media_parts
from tests.router import accuracy
from tests.router.heldout_cases import private_cases

MAX_CHARS = 4000
# Short keyword lists matched as substrings, as in the original plan (kept here, frozen, so the baseline does
# not move when routing.yaml's word lists grow).
ORIGINAL_KEYWORDS = {
    "power": (
        "code",
        "debug",
        "refactor",
        "function",
        "algorithm",
        "bug",
        "sql",
        "api",
        "python",
        "analyze",
        "optimize",
        "architecture",
        "prove",
        "derive",
        "complexity",
    ),
    "creative": (
        "story",
        "poem",
        "essay",
        "lyrics",
        "song",
        "brainstorm",
        "slogan",
        "speech",
        "strategy",
        "plan",
        "pitch",
        "creative",
    ),
    "local": ("hi", "hello", "hey", "thanks", "chat", "translate", "define", "capital of", "how many", "convert"),
}


class SubstringRouter:
    """The original plan: keyword substrings in order (power, creative, local), no privacy, no vision."""

    def __init__(self, keywords: dict[str, tuple[str, ...]]) -> None:
        self.keywords = keywords

    def decide(self, body: dict[str, Any]) -> Any:
        text = last_user_text(body).lower()
        tier = next(
            (t for t in ("power", "creative", "local") if any(k in text for k in self.keywords.get(t, ()))), "local"
        )
        return type("Decision", (), {"tier": tier, "pinned_local": False})()


def _prompts(n: int, seed: int = 11) -> list[str]:
    pool = [json.loads(line)["turns"][0] for line in (accuracy.MTBENCH / "question.jsonl").read_text().splitlines()]
    from tests.router.heldout_cases import CREATIVE, LOCAL, POWER

    pool += LOCAL + POWER + CREATIVE
    rng = random.Random(seed)
    prompts = []
    for i in range(n):
        target = rng.randint(20, MAX_CHARS)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(pool))
        prompts.append((" ".join(parts))[: target - 8] + f" #{i:06d}")
    return prompts


# Adversarial 4,000-character prompts for the privacy guard: one trigger word repeated hundreds of times (each
# used to cost a regex window of its own: "token: abcdefgh" x 250 took 14 ms a decision).
ADVERSARIAL = {
    "token: abcdefgh": "token: abcdefgh ",
    "Tests passed: 12 lines": "Tests passed: 12\n",
    "api_key: 'x'": "api_key: 'x' ",
    "password = '": "password = '",
    "curl -u a": "curl -u a ",
    "pw=abc": "pw=abc ",
    "passport number is 1": "passport number is 1 ",
}


def _adversarial_prompts(unit: str, n: int) -> list[str]:
    return [(unit * (MAX_CHARS // len(unit) + 1))[: MAX_CHARS - 8] + f" #{i:06d}" for i in range(n)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(decide: Callable[[dict[str, Any]], Any], prompts: list[str]) -> dict[str, float]:
    wall, cpu = [], []
    for text in prompts[:100]:  # warm-up on variants of the texts (no cache hit later)
        decide({"model": "max-auto", "messages": [{"role": "user", "content": "w " + text}]})
    for text in prompts:
        body = {"model": "max-auto", "messages": [{"role": "user", "content": text}]}
        w0, c0 = time.perf_counter(), time.thread_time()
        decide(body)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {
        "p50": _percentile(wall, 0.5),
        "p99": _percentile(wall, 0.99),
        "cpu_p50": _percentile(cpu, 0.5),
        "cpu_p99": _percentile(cpu, 0.99),
    }


def _tier_accuracy(decide: Callable[[dict[str, Any]], Any], cases: list[tuple[str, dict[str, Any]]]) -> float:
    return sum(decide(body).tier == expect for expect, body in cases) / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=3000)
    args = parser.parse_args()
    config = load_config()
    policy = RoutingPolicy(config)
    baseline = SubstringRouter(ORIGINAL_KEYWORDS)

    dev = [(c["expect"], c["request"]) for c in accuracy.dev_cases()]
    from tests.router.heldout_cases import tier_cases

    held = tier_cases()
    private = private_cases() + [
        (c["kind"], c["request"]) for c in accuracy.dev_cases() if c["kind"].startswith(("secret", "pii", "private"))
    ]
    print("Tier accuracy (router | original substring rules)")
    for name, cases in (("development set", dev), ("held-out cases", held)):
        ours, base = _tier_accuracy(policy.decide, cases), _tier_accuracy(baseline.decide, cases)
        print(f"  {name:16s} {len(cases):3d} cases: {ours:6.1%} | {base:6.1%}")
    kept = accuracy.private_kept_local(policy, private)
    base_kept = sum(baseline.decide(b).tier == "local" for _, b in private)
    print(f"  private kept local {kept.total:3d} cases: {kept.ratio:6.1%} | {base_kept / len(private):6.1%}")
    images = sum(bool(media_parts(b)) for _, b in dev + held)
    print(f"  ({images} cases carry images; the substring rules never reach the vision tier)")

    mt = accuracy.mtbench(policy)
    print("MT-Bench (80 questions, first turn routed; strong = power or creative)")
    print(f"  router: local fraction {mt.local_fraction:.1%}, retained quality {mt.retained_quality:.1%}")
    print(f"  all local: retained quality {mt.all_local_quality:.1%}; RouteLLM published: 74-86% local at 95%")
    curve = []
    for margin in (0.2, 0.4, 0.6, 0.8, 0.9):
        tuned = dataclasses.replace(config, classifier=dataclasses.replace(config.classifier, local_margin=margin))
        point = accuracy.mtbench(RoutingPolicy(tuned))
        curve.append(f"{margin:g}: {point.local_fraction:.0%} local / {point.retained_quality:.1%}")
    print("  operating curve (classifier.local_margin: local fraction / retained quality):", "; ".join(curve))

    prompts = _prompts(args.decisions)
    ours = _latency(policy.decide, prompts)
    base = _latency(baseline.decide, prompts)
    print(f"Decision latency, {len(prompts)} distinct prompts of 20-{MAX_CHARS} characters (privacy guard included)")
    print(
        f"  router:    p50 {ours['p50']:.3f} ms, p99 {ours['p99']:.3f} ms "
        f"(thread CPU p50 {ours['cpu_p50']:.3f} ms, p99 {ours['cpu_p99']:.3f} ms); target p99 <= 2 ms"
    )
    print(
        f"  substring: p50 {base['p50']:.3f} ms, p99 {base['p99']:.3f} ms; "
        f"router/substring p99 ratio {ours['p99'] / max(base['p99'], 1e-9):.0f}x"
    )
    # Fresh prompts (another seed): the guard remembers texts it has scanned, which would flatter a re-run.
    long_prompts = [p for p in _prompts(args.decisions, seed=23) if len(p) > 3000]
    long = _latency(policy.decide, long_prompts)
    print(
        f"  router on {len(long_prompts)} other prompts over 3,000 characters: p50 {long['p50']:.3f} ms, "
        f"p99 {long['p99']:.3f} ms (thread CPU p99 {long['cpu_p99']:.3f} ms)"
    )
    print(f"Adversarial {MAX_CHARS:,}-character prompts (one phrase repeated; 200 distinct prompts each)")
    for name, unit in ADVERSARIAL.items():
        adv = _latency(policy.decide, _adversarial_prompts(unit, 200))
        print(
            f"  {name!r:26s} p50 {adv['p50']:.3f} ms, p99 {adv['p99']:.3f} ms "
            f"(thread CPU p50 {adv['cpu_p50']:.3f} ms, p99 {adv['cpu_p99']:.3f} ms)"
        )


if __name__ == "__main__":
    main()
