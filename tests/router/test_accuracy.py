"""Routing quality against the issue's targets: the development set (private local, images to vision, plain local
kept local, escalations to the right strong tier), held-out cases, MT-Bench retained quality at 80% local, and the
local share of a mixed request stream at the default sovereignty target. Prints the figures (pytest -s)."""

from __future__ import annotations

import dataclasses

from router.policy import RoutingPolicy
from tests.router import accuracy
from tests.router.fakes import ask
from tests.router.heldout_cases import LOCAL, private_cases


def test_development_set_targets(policy: RoutingPolicy) -> None:
    targets = accuracy.dev_targets(policy)
    for name in ("private", "images", "plain_local", "escalated", "strong_kind"):
        result = getattr(targets, name)
        print("\n" + result.line(name), *result.misses, sep="\n  ")
    assert targets.private.correct == targets.private.total == 8, targets.private.misses
    assert targets.images.ratio == 1.0, targets.images.misses
    assert targets.plain_local.ratio >= 0.95, targets.plain_local.misses
    assert targets.escalated.total == 0 or targets.escalated.ratio >= 0.9, targets.escalated.misses
    assert targets.strong_kind.ratio >= 0.9


def test_escalated_development_cases_go_to_the_right_strong_tier(policy: RoutingPolicy) -> None:
    """With a low threshold many cases escalate: each still goes to the strong tier its kind fits."""
    targets = accuracy.dev_targets(policy, threshold=0.1)
    assert targets.escalated.total >= 10
    assert targets.escalated.ratio >= 0.9, targets.escalated.misses
    assert targets.private.ratio == 1.0 and targets.images.ratio == 1.0  # whatever the threshold


def test_heldout_plain_local_requests_stay_local(policy: RoutingPolicy) -> None:
    kept = sum(policy.decide(ask(text)).tier == "local" for text in LOCAL)
    assert kept / len(LOCAL) >= 0.95


def test_heldout_private_cases_all_local(policy: RoutingPolicy) -> None:
    result = accuracy.private_kept_local(policy, private_cases())
    assert result.correct == result.total, result.misses


def test_mtbench_retained_quality_at_80_percent_local(policy: RoutingPolicy) -> None:
    point = accuracy.mtbench_at(policy, accuracy.mtbench_threshold_for_local(policy, 0.8))
    calibrated = accuracy.mtbench(policy)
    print(
        f"\nMT-Bench at 80% local: retained quality {point.retained_quality:.1%}; at the calibrated threshold: "
        f"{calibrated.local_fraction:.1%} local, {calibrated.retained_quality:.1%} (all local "
        f"{calibrated.all_local_quality:.1%})"
    )
    assert point.local_fraction >= 0.8 and point.retained_quality >= 0.95
    assert calibrated.retained_quality > calibrated.all_local_quality + 0.04


def test_mixed_stream_local_share_is_on_target(policy: RoutingPolicy) -> None:
    stream = accuracy.mixed_stream()
    online = accuracy.stream_local_share(policy, stream, online=True)
    offline = accuracy.stream_local_share(policy, stream)
    print(f"\nmixed stream local share: offline {offline:.1%}, online {online:.1%}")
    assert abs(online - policy.config.sovereignty_target) <= 0.03
    assert abs(offline - policy.config.sovereignty_target) <= 0.05


def test_a_lower_target_sends_more_away(policy: RoutingPolicy) -> None:
    """The target is what moves the share: calibrated to 70%, the same stream keeps about 70% local."""
    from router.calibrate import calibrate
    from router.need_data import CALIBRATION_PATH

    lines = CALIBRATION_PATH.read_text(encoding="utf-8").splitlines()
    threshold = calibrate(policy, lines, 0.7).threshold
    config = policy.config
    lower = RoutingPolicy(
        dataclasses.replace(config, sovereignty_target=0.7, need=dataclasses.replace(config.need, threshold=threshold))
    )
    share = accuracy.stream_local_share(lower, accuracy.mixed_stream(), online=True)
    assert abs(share - 0.7) <= 0.05, share
