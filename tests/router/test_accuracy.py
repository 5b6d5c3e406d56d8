"""Routing accuracy: the public development set, held-out cases written apart from the training prompts, and
MT-Bench retained quality. Prints the figures (pytest -s) and holds the issue's targets."""

from __future__ import annotations

from router.policy import RoutingPolicy
from tests.router import accuracy
from tests.router.heldout_cases import private_cases


def test_development_set_accuracy(policy: RoutingPolicy) -> None:
    result = accuracy.dev_accuracy(policy)
    print("\n" + result.line("development set tier accuracy"), *result.misses, sep="\n  ")
    assert result.ratio >= 0.9, result.misses


def test_development_set_private_cases_all_local(policy: RoutingPolicy) -> None:
    cases = [
        (c["kind"], c["request"]) for c in accuracy.dev_cases() if c["kind"].startswith(("secret", "pii", "private"))
    ]
    result = accuracy.private_kept_local(policy, cases)
    assert result.correct == result.total == 8, result.misses


def test_heldout_accuracy(policy: RoutingPolicy) -> None:
    result = accuracy.heldout_accuracy(policy)
    print("\n" + result.line("held-out tier accuracy"), *result.misses, sep="\n  ")
    assert result.ratio >= 0.9, result.misses


def test_heldout_private_cases_all_local(policy: RoutingPolicy) -> None:
    result = accuracy.private_kept_local(policy, private_cases())
    assert result.correct == result.total, result.misses


def test_mtbench_retained_quality(policy: RoutingPolicy) -> None:
    result = accuracy.mtbench(policy)
    print(
        f"\nMT-Bench: local fraction {result.local_fraction:.1%}, retained quality "
        f"{result.retained_quality:.1%} (all local: {result.all_local_quality:.1%})"
    )
    assert result.retained_quality >= 0.95
