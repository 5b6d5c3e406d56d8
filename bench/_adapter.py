"""The in-domain adapter's targets (issue 22), printed by bench.router: on each set of MMLU domains held out from
the need model's training, 10% of every domain's prompts are labels (local_ok and strong_ok from the data's
correctness columns); `route learn`'s learner and guard fit an adapter on them, and APGR on the other 90% is
printed for the shipped model and for the adapted one (the shipped model's where the guard refused the adapter).
Seeded and deterministic. Alone (the need model's fold fits, then these figures; about a minute):

    .venv/bin/python -m bench._adapter [--folds K]

The labels are built in-process, not read back from a file: each fold's vectors must carry that fold's need model
(fitted without the held-out domains), while `route learn FILE` vectors carry the shipped one, which saw them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router.adapter import Adapter
from router.adapter_train import fit
from router.config import LearningConfig
from router.labels import label_vector
from router.need import NeedModel
from router.need_data import Example, apgr

LABEL_SHARE = 0.1
SEED = 22


@dataclass(frozen=True)
class HeldOutSet:
    domains: int
    labels: int
    evaluated: int
    shipped: float  # APGR of the shipped model (fitted without these domains) on the 90%
    adapted: float  # APGR with the adapter where the guard accepted it, else the shipped figure
    unguarded: float  # APGR with the adapter whatever the guard said
    guard: dict[str, Any]


def split(mmlu: Sequence[Example], test: Sequence[int], seed: int) -> tuple[list[int], list[int]]:
    """LABEL_SHARE of each domain's questions as labels, the rest to evaluate on."""
    rng = random.Random(seed)
    by_domain: dict[str, list[int]] = {}
    for i in test:
        by_domain.setdefault(mmlu[i].group, []).append(i)
    labelled, rest = [], []
    for domain in sorted(by_domain):
        indices = by_domain[domain][:]
        rng.shuffle(indices)
        cut = max(1, round(LABEL_SHARE * len(indices)))
        labelled += indices[:cut]
        rest += indices[cut:]
    return labelled, rest


def label(example: Example, x: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "x": x, "local_ok": bool(example.weak), "strong_ok": bool(example.strong), "source": "file"}


def held_out_set(
    mmlu: Sequence[Example], model: NeedModel, test: Sequence[int], config: LearningConfig, seed: int
) -> HeldOutSet:
    labelled, rest = split(mmlu, test, seed)
    vectors = {i: label_vector(mmlu[i].text, 1, need=model) for i in (*labelled, *rest)}
    adapter: Adapter = fit([label(mmlu[i], vectors[i]) for i in labelled], config)
    weak, strong = [mmlu[i].weak for i in rest], [mmlu[i].strong for i in rest]
    shipped = apgr([vectors[i]["gain"] for i in rest], weak, strong)
    unguarded = apgr([vectors[i]["gain"] + adapter.vector_delta(vectors[i]) for i in rest], weak, strong)
    return HeldOutSet(
        len({mmlu[i].group for i in test}),
        len(labelled),
        len(rest),
        shipped,
        unguarded if adapter.accepted else shipped,
        unguarded,
        adapter.guard,
    )


def report(mmlu: Sequence[Example], models: list[tuple[NeedModel, list[int]]], config: LearningConfig) -> None:
    sets = [held_out_set(mmlu, model, test, config, SEED + k) for k, (model, test) in enumerate(models)]
    print(
        f"In-domain adapter (route learn): {LABEL_SHARE:.0%} of each held-out domain's prompts as labels, "
        f"APGR on the other {1 - LABEL_SHARE:.0%}"
    )
    for k, s in enumerate(sets):
        g = s.guard
        print(
            f"  set {k + 1} ({s.domains} domains, {s.labels} labels, {s.evaluated} evaluated): "
            f"shipped {s.shipped:.4f}, adapted {s.adapted:.4f} ({s.adapted - s.shipped:+.4f}); "
            f"guard {g['verdict']} (held-back labels: "
            f"adapter {g['adapted_apgr']:.4f}, shipped {g['shipped_apgr']:.4f}); adapter unguarded {s.unguarded:.4f}"
        )
    beat = sum(s.adapted > s.shipped for s in sets)
    never_below = all(s.adapted >= s.shipped for s in sets)
    mean_before = sum(s.shipped for s in sets) / len(sets)
    mean_after = sum(s.adapted for s in sets) / len(sets)
    print(f"  mean: shipped {mean_before:.4f}, adapted {mean_after:.4f}")
    ok = beat == len(sets)
    print(
        f"  beats the shipped model on {beat} of {len(sets)} sets: {'met' if ok else 'MISSED'}; "
        f"never below it: {'met' if never_below else 'MISSED'}"
    )


def latency_adapter(mmlu: Sequence[Example], config: LearningConfig) -> Adapter:
    """An adapter of a realistic size for the decision-time figure: 10% of every MMLU domain, shipped vectors."""
    labelled, _ = split(mmlu, range(len(mmlu)), SEED)
    return fit([label(mmlu[i], label_vector(mmlu[i].text, 1)) for i in labelled], config)


def main() -> None:
    import argparse

    from router import need_data, need_train
    from router.config import load_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5, help="MMLU domain folds (as bench.router's)")
    args = parser.parse_args()
    mmlu = need_data.mmlu()
    report(mmlu, need_train.fold_models(mmlu, need_data.written(), args.folds), load_config().learning)


if __name__ == "__main__":
    main()
