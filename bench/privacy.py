"""Privacy guard: coverage, false positives and cost.

1. Positives kept local: every case of the privacy corpus (tests/router/privacy_corpus.py: secrets and personal
   data in every encoding, format, field and position) sent to max-genius must be pinned to the local tier.
2. Benign false-positive rate: the MMLU and MT-Bench prompts shipped in data/ (tests/router/benign_set.py), none
   of which is private; target at most 2% flagged. Flags are broken down by detector.
3. Decision latency, guard included, on distinct 4,000-character prompts (no cache hits): p50 / p99 wall time,
   beside the guard alone and a decision with the guard disabled (the baseline, interleaved prompt by prompt in
   the same run); target p99 2 ms for the guard. A decision's own tail (the classifier, on prompts the need
   score sends to a strong tier) is bench.router's figure.
4. Adversarial prompts of up to megabytes of base64: the guard's time per request against a 4,000-character one,
   with the two caps that bound it: base64 decoded per scan (router.encoded_views) and the characters one
   request may hold before it is kept local unscanned (privacy.max_scan_chars).

    .venv/bin/python -m bench.privacy [--benign N] [--decisions N] [--megabytes M ...]
"""

from __future__ import annotations

import argparse
import base64
import collections
import dataclasses
import os
import random
import time
from collections.abc import Callable
from typing import Any

from router.config import load_config
from router.encoded_views import MAX_DECODED_CHARS, base64_payloads
from router.policy import RoutingPolicy
from router.privacy import NO_FINDING, PrivacyFinding, PrivacyGuard
from tests.router import privacy_corpus as corpus
from tests.router.benign_set import benign_prompts

PROMPT_CHARS = 4000
FP_TARGET = 0.02
P99_TARGET_MS = 2.0


class _NoGuard:
    """The baseline: a decision whose guard finds nothing without looking."""

    def scan(self, request: dict[str, Any]) -> PrivacyFinding:
        return NO_FINDING


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def _cpu_timed(run: Callable[[], Any]) -> tuple[float, float]:
    """(wall, thread CPU) milliseconds: CPU time is less sensitive to other processes on a shared machine."""
    wall, cpu = time.perf_counter(), time.thread_time()
    run()
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def _long_prompts(pool: list[str], n: int, seed: int) -> list[str]:
    """Distinct prompts of exactly PROMPT_CHARS characters, joined from benign prompts."""
    rng = random.Random(seed)
    prompts = []
    for i in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < PROMPT_CHARS:
            parts.append(rng.choice(pool))
        prompts.append(" ".join(parts)[: PROMPT_CHARS - 8] + f" #{i:06d}")
    return prompts


def _body(text: str) -> dict[str, Any]:
    return {"model": "max-auto", "messages": [{"role": "user", "content": text}]}


def kept_local(policy: RoutingPolicy) -> None:
    cases = corpus.positive_cases()
    missed = [c.id for c in cases if not policy.decide({**c.body, "model": "max-genius"}).pinned_local]
    kept = len(cases) - len(missed)
    print(f"Positives kept local: {kept}/{len(cases)} = {kept / len(cases):.1%} (target 100%)")
    for case_id in missed[:20]:
        print(f"  missed: {case_id}")
    negatives = corpus.negative_cases()
    flagged = sum(policy.decide(c.body).pinned_local for c in negatives)
    print(f"Corpus look-alikes pinned local: {flagged}/{len(negatives)} (target 0)")


def benign_rate(guard: PrivacyGuard, prompts: list[str]) -> None:
    by_detector: collections.Counter[str] = collections.Counter()
    flagged = 0
    for prompt in prompts:
        finding = guard.scan_texts([prompt])
        if finding.hit:
            flagged += 1
            by_detector.update(finding.detectors)
    rate = flagged / len(prompts)
    print(
        f"Benign false-positive rate (MMLU + MT-Bench, {len(prompts):,} prompts): {flagged} flagged = {rate:.2%} "
        f"(target <= {FP_TARGET:.0%})"
    )
    print("  by detector: " + (", ".join(f"{d} {n}" for d, n in by_detector.most_common()) or "none"))


def latency(config: Any, pool: list[str], n: int) -> None:
    """The three rows take turns prompt by prompt (each on its own fresh prompts), so that load from elsewhere on
    the machine hits them alike; the guard's before/after is the decision without it and with it."""
    with_guard = RoutingPolicy(config)
    no_guard = RoutingPolicy(config)
    no_guard.guard = _NoGuard()  # type: ignore[assignment]
    guard = PrivacyGuard(config.privacy)
    rows = (
        ("decision + guard", lambda text: with_guard.decide(_body(text))),
        ("guard alone", lambda text: guard.scan(_body(text))),
        ("decision, guard off", lambda text: no_guard.decide(_body(text))),
    )
    print(f"Latency on {n:,} distinct {PROMPT_CHARS:,}-character prompts (fresh texts per row: no cache hits)")
    prompts = [_long_prompts(pool, n + 50, seed) for seed in range(len(rows))]
    for (_, run), texts in zip(rows, prompts, strict=True):
        for text in texts[:50]:  # warm-up
            run(text)
    times: list[list[tuple[float, float]]] = [[] for _ in rows]
    for i in range(50, n + 50):
        for k in range(len(rows)):
            row = (i + k) % len(rows)  # each row goes first in turn
            times[row].append(_cpu_timed(lambda run=rows[row][1], text=prompts[row][i]: run(text)))
    p99: dict[str, float] = {}
    for (name, _), measured in zip(rows, times, strict=True):
        wall, cpu = [w for w, _ in measured], [c for _, c in measured]
        p99[name] = _percentile(wall, 0.99)
        print(
            f"  {name:20s} p50 {_percentile(wall, 0.5):.3f} ms, p99 {p99[name]:.3f} ms "
            f"(thread CPU p50 {_percentile(cpu, 0.5):.3f} ms, p99 {_percentile(cpu, 0.99):.3f} ms)"
        )
    guard_p99 = p99["guard alone"]
    verdict = "met" if guard_p99 <= P99_TARGET_MS else "MISSED"
    print(
        f"Privacy guard at {PROMPT_CHARS:,} characters: p99 {guard_p99:.3f} ms (target <= {P99_TARGET_MS:g} ms: "
        f"{verdict}); decision p99 {p99['decision, guard off']:.3f} ms without the guard (before) -> "
        f"{p99['decision + guard']:.3f} ms with it (after) (machine load {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores)"
    )


def adversarial(guard: PrivacyGuard, megabytes: list[float], cap: int) -> None:
    rng = random.Random(5)

    def blob(chars: int) -> str:
        return base64.b64encode(rng.randbytes(chars * 3 // 4 + 3)).decode()[:chars]

    small = [_timed(lambda: guard.scan(_body(blob(PROMPT_CHARS)))) for _ in range(20)]
    reference = _percentile(small, 0.5)
    print(
        f"Adversarial base64 (random bytes, one request each; privacy.max_scan_chars {cap:,}: more is kept local "
        f"unscanned); a {PROMPT_CHARS:,}-character one: {reference:.3f} ms"
    )
    for size in megabytes:
        text = blob(int(size * 1_000_000))
        decoded = sum(len(data) for data in base64_payloads(text))
        body = _body(text)
        start = time.perf_counter()
        finding = guard.scan(body)
        elapsed = (time.perf_counter() - start) * 1000
        outcome = "kept local unscanned" if "unscanned" in finding.kinds else "scanned"
        print(
            f"  {size:g} MB: {elapsed:.1f} ms ({elapsed / reference:.0f}x the 4,000-character scan), {outcome}; "
            f"base64 decoded per scan: {decoded:,} bytes (cap {MAX_DECODED_CHARS:,} characters)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benign", type=int, default=0, help="benign prompts to scan (0 = all)")
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--megabytes", type=float, nargs="+", default=[0.1, 0.5, 1.0, 4.0])
    args = parser.parse_args()
    config = load_config()
    config = dataclasses.replace(config, budget=dataclasses.replace(config.budget, monthly_usd=0.0))
    pool = benign_prompts()
    kept_local(RoutingPolicy(config))
    benign_rate(PrivacyGuard(config.privacy), pool[: args.benign] if args.benign else pool)
    latency(config, pool, args.decisions)
    adversarial(PrivacyGuard(config.privacy), args.megabytes, config.privacy.max_scan_chars)


if __name__ == "__main__":
    main()
