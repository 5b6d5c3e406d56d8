"""Router quality and speed against the issue's targets, beside baselines measured in the same run (the original
keyword-substring router; the topic classifier's cloud probability as a need score).

1. Development set (tests/router/dev_cases.py): private cases local, images to vision, plain local cases local,
   escalated cases to the right strong tier.
2. MT-Bench (data/routellm-mtbench): local fraction and retained quality (docs/reference/routing.md) at the
   calibrated threshold and at 80% local, beside RouteLLM's published 95% quality at ~86% local.
3. APGR on MMLU domains held out from training (router.need_train, GroupKFold by domain; needs scikit-learn), and
   the in-domain adapter's targets on those sets (bench._adapter: 10% of each domain as labels, APGR on the rest).
4. The local share of a mixed request stream at the default sovereignty target, offline and with the hook's
   online threshold controller.
5. Decision latency, privacy guard included, on distinct prompts of 20 to 4,000 characters (no cache hits):
   p50 and p99 wall time, and thread CPU time (less sensitive to other processes on a shared machine); the
   decision without the privacy guard (every other rule, the classifier and the need score); the need score alone.

    .venv/bin/python -m bench.router [--decisions N] [--folds K]
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
from router.privacy import NO_FINDING, PrivacyFinding
from router.request import last_user_text
from tests.router import accuracy

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


class _NoScan:
    """The privacy guard taken out of a decision, to time everything else (a measurement aid, never routed on)."""

    def scan(self, request: Any) -> PrivacyFinding:
        return NO_FINDING


def _without_guard(policy: RoutingPolicy) -> RoutingPolicy:
    unguarded = RoutingPolicy(policy.config)
    unguarded.guard = _NoScan()
    return unguarded


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


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _dev_set(policy: RoutingPolicy, baseline: SubstringRouter) -> None:
    targets = accuracy.dev_targets(policy)
    cases = accuracy.dev_cases()
    plain = [c for c in cases if c["expect"] == "local" and not c["kind"].startswith(accuracy.PRIVATE_KINDS)]
    private = [c for c in cases if c["kind"].startswith(accuracy.PRIVATE_KINDS)]
    base_plain = sum(baseline.decide(c["request"]).tier == "local" for c in plain) / len(plain)
    base_private = sum(baseline.decide(c["request"]).tier == "local" for c in private) / len(private)
    print("Development set (router | original substring rules)")
    print(f"  private kept local:      {targets.private.ratio:6.1%} | {base_private:6.1%}   target 100%")
    print(f"  images to vision:        {targets.images.ratio:6.1%} | {0:6.1%}   target 100%")
    print(f"  plain local kept local:  {targets.plain_local.ratio:6.1%} | {base_plain:6.1%}   target >= 95%")
    print(
        f"  escalated, right tier:   {targets.escalated.line('escalated')} "
        f"(every power/creative case forced to escalate: {targets.strong_kind.ratio:.1%}); target >= 90%"
    )
    met = (
        targets.private.ratio == 1
        and targets.images.ratio == 1
        and targets.plain_local.ratio >= 0.95
        and (targets.escalated.total == 0 or targets.escalated.ratio >= 0.9)
        and targets.strong_kind.ratio >= 0.9
    )
    print(f"  development-set targets: {_mark(met)}")


def _mtbench(policy: RoutingPolicy) -> None:
    calibrated = accuracy.mtbench(policy)
    point = accuracy.mtbench_at(policy, accuracy.mtbench_threshold_for_local(policy, 0.8))
    print("MT-Bench (80 questions, first turn routed; strong = power or creative)")
    print(
        f"  calibrated threshold {policy.config.need.threshold:.3f}: local {calibrated.local_fraction:.1%}, "
        f"retained quality {calibrated.retained_quality:.1%}"
    )
    print(
        f"  at 80% local: retained quality {point.retained_quality:.1%} (local {point.local_fraction:.1%}); "
        f"target >= 95% at >= 80% local: {_mark(point.retained_quality >= 0.95 and point.local_fraction >= 0.8)}"
    )
    curve = []
    for share in (0.7, 0.75, 0.85, 0.9):
        at = accuracy.mtbench_at(policy, accuracy.mtbench_threshold_for_local(policy, share))
        curve.append(f"{at.local_fraction:.0%} local / {at.retained_quality:.1%}")
    print("  operating curve:", "; ".join(curve))
    print(
        f"  all local: {calibrated.all_local_quality:.1%}; RouteLLM published: 95% at ~86% local; "
        "the original router: 11.2% local at 99.2% (issue 11)"
    )


def _apgr(policy: RoutingPolicy, folds: int) -> None:
    try:
        from router import need_data, need_train
    except ImportError as exc:  # scikit-learn is a training dependency (the `dev` extra)
        print(f"APGR: skipped ({exc.name} is not installed; it comes with the dev extra)")
        return
    mmlu = need_data.mmlu()
    models = need_train.fold_models(mmlu, need_data.written(), folds)
    results = need_train.heldout_domain_apgr(mmlu, need_data.written(), folds, models)
    mean = sum(results) / len(results)
    print(f"APGR on MMLU domains held out from training ({folds} folds by domain, {len(mmlu)} questions)")
    print(
        f"  need model: {mean:.3f} ("
        + ", ".join(f"{r:.3f}" for r in results)
        + f"); target >= 0.62: {_mark(mean >= 0.62)}"
    )
    if policy.classifier is not None:
        # The topic classifier never saw MMLU: its cloud probability, on the same held-out folds, is the ranking
        # the original router's decisions came from.
        old = [1 - policy.classify(e.text).probabilities["local"] for e in mmlu]
        base = [
            need_data.apgr([old[i] for i in test], [mmlu[i].weak for i in test], [mmlu[i].strong for i in test])
            for _, test in need_train.domain_folds(mmlu, folds)
        ]
        base_text = ", ".join(f"{r:.3f}" for r in base)
        mean_base = sum(base) / len(base)
        print(f"  topic classifier's cloud probability (the original router's ranking): {mean_base:.3f} ({base_text})")
    print("  random routing: 0.5")
    from bench import _adapter as adapter

    adapter.report(mmlu, models, policy.config.learning)


def _mixed_stream(policy: RoutingPolicy) -> None:
    stream = accuracy.mixed_stream()
    offline = accuracy.stream_local_share(policy, stream)
    online = accuracy.stream_local_share(policy, stream, online=True)
    target = policy.config.sovereignty_target
    print(f"Mixed request stream ({len(stream)} requests: dev set, held-out and private cases, MT-Bench, MMLU)")
    print(f"  local share at the calibrated threshold: {offline:.1%}")
    print(
        f"  with the hook's online threshold: {online:.1%}; target {target:.0%} +- 3 points: "
        f"{_mark(abs(online - target) <= 0.03)}"
    )


def _need_latency(policy: RoutingPolicy, prompts: list[str]) -> dict[str, float]:
    wall = []
    for text in prompts:
        body = {"model": "max-auto", "messages": [{"role": "user", "content": text}]}
        w0 = time.perf_counter()
        policy.need_score(body, text)
        wall.append((time.perf_counter() - w0) * 1000)
    return {"p50": _percentile(wall, 0.5), "p99": _percentile(wall, 0.99)}


def _adapter_latency(policy: RoutingPolicy, unguarded: dict[str, float], decisions: int) -> None:
    """The decision without the privacy guard with an adapter loaded, beside the same figure without one."""
    try:
        from bench._adapter import latency_adapter
        from router import need_data

        fitted = latency_adapter(need_data.mmlu(), policy.config.learning)
    except ImportError as exc:
        print(f"  with an adapter: skipped ({exc.name} is not installed; it comes with the dev extra)")
        return
    adapted = _without_guard(policy)
    adapted.adapter = fitted.as_accepted()
    prompts = _prompts(decisions, seed=41)
    plain = _latency(_without_guard(policy).decide, prompts)
    ours = _latency(adapted.decide, _prompts(decisions, seed=43))
    print(
        f"  without the privacy guard, adapter loaded ({fitted.labels} labels, {len(fitted.terms)} terms): "
        f"p50 {ours['p50']:.3f} ms, p99 {ours['p99']:.3f} ms (thread CPU p99 {ours['cpu_p99']:.3f} ms); "
        f"target p99 <= 1 ms; against no adapter in the same run (p99 {plain['p99']:.3f} ms; earlier "
        f"{unguarded['p99']:.3f} ms): p99 ratio {ours['p99'] / max(plain['p99'], 1e-9):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=5, help="MMLU domain folds for APGR")
    args = parser.parse_args()
    config = load_config()
    policy = RoutingPolicy(dataclasses.replace(config, budget=dataclasses.replace(config.budget, monthly_usd=0.0)))
    baseline = SubstringRouter(ORIGINAL_KEYWORDS)
    _dev_set(policy, baseline)
    _mtbench(policy)
    _apgr(policy, args.folds)
    _mixed_stream(policy)

    prompts = _prompts(args.decisions)
    need = _need_latency(policy, _prompts(args.decisions, seed=31))
    ours = _latency(policy.decide, prompts)
    unguarded = _latency(_without_guard(policy).decide, _prompts(args.decisions, seed=37))
    base = _latency(baseline.decide, prompts)
    print(f"Decision latency, {len(prompts)} distinct prompts of 20-{MAX_CHARS} characters (privacy guard included)")
    print(
        f"  router:    p50 {ours['p50']:.3f} ms, p99 {ours['p99']:.3f} ms "
        f"(thread CPU p50 {ours['cpu_p50']:.3f} ms, p99 {ours['cpu_p99']:.3f} ms); target p99 <= 2 ms"
    )
    print(
        f"  without the privacy guard: p50 {unguarded['p50']:.3f} ms, p99 {unguarded['p99']:.3f} ms "
        f"(thread CPU p99 {unguarded['cpu_p99']:.3f} ms); target p99 <= 1 ms"
    )
    print(f"  need score alone: p50 {need['p50']:.3f} ms, p99 {need['p99']:.3f} ms")
    _adapter_latency(policy, unguarded, args.decisions)
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
