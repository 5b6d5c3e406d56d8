"""The sovereignty target: the offline calibration (`maximus route calibrate`) and the hook's online threshold
controller keep the target share of requests on the machine, and the bounds hold."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import random
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download when LiteLLM imports

import pytest
import redis

from router import litellm_hook
from router.calibrate import calibrate
from router.config import OnlineConfig, load_config, parse_config
from router.litellm_hook import RoutingHook
from router.policy import RoutingPolicy
from router.sovereignty import ObservedShare, Outcome, ThresholdController, threshold_for, write_threshold
from tests.router import fakes
from tests.router.accuracy import dev_cases
from tests.router.fakes import HARD_PROMPT, ask

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "litellm" / "routing.yaml"


def _share(outcomes: list[Outcome], threshold: float) -> float:
    kept = sum(o.sovereign if o.score is None else o.score < threshold for o in outcomes)
    return kept / len(outcomes)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 0.95])
def test_threshold_for_meets_the_target_on_its_sample(target: float) -> None:
    rng = random.Random(3)
    sample = [Outcome(rng.random() ** 3, True) for _ in range(400)]
    sample += [Outcome(None, True)] * 30 + [Outcome(None, False)] * 20  # forced: private/vision and explicit cloud
    threshold = threshold_for(sample, target)
    assert threshold is not None
    assert abs(_share(sample, threshold) - target) <= 1 / len(sample) + 1e-9


def test_threshold_for_saturates_and_needs_scored_requests() -> None:
    assert threshold_for([Outcome(None, True)], 0.9) is None
    assert threshold_for([Outcome(0.5, True)] + [Outcome(None, False)] * 9, 0.95) == 0.99  # keep all scored local
    assert threshold_for([Outcome(0.5, True)] + [Outcome(None, True)] * 9, 0.5) == 0.01  # forced ones suffice


def test_calibrate_on_the_development_set_hits_the_target(policy: RoutingPolicy) -> None:
    lines = [json.dumps(case) for case in dev_cases()]
    for target in (0.7, 0.9):
        result = calibrate(policy, [*lines, "not json"], target)
        assert (result.requests, result.skipped) == (len(lines), 1)
        tiers = [policy.decide(c["request"], threshold=result.threshold).tier for c in dev_cases()]
        share = sum(t in ("local", "vision") for t in tiers) / len(tiers)
        assert abs(share - target) <= 1.5 / len(tiers), (target, share)


def test_write_threshold_changes_only_that_line(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    write_threshold(config, 0.4321)
    before = SHIPPED.read_text(encoding="utf-8").splitlines()
    after = config.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and "threshold: 0.4321" in changed[0][1]
    assert load_config(config).need.threshold == pytest.approx(0.4321)
    assert load_config(config).classifier == load_config(SHIPPED).classifier


@pytest.mark.skipif(
    shutil.which("maximus", path=str(Path(sys.executable).parent)) is None,
    reason="the maximus console script is not installed",
)
def test_maximus_route_calibrate_writes_the_threshold(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(
        SHIPPED.read_text(encoding="utf-8").replace("sovereignty_target: 0.90", "sovereignty_target: 0.6")
    )
    sample = tmp_path / "cases.jsonl"
    sample.write_text("".join(json.dumps(c) + "\n" for c in dev_cases()))
    exe = shutil.which("maximus", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [exe, "route", "calibrate", str(sample), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MAXIMUS_ROUTING_CONFIG": str(config)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    printed = json.loads(result.stdout)
    assert printed["sovereignty_target"] == 0.6 and printed["written"] is True
    assert load_config(config).need.threshold == pytest.approx(printed["threshold"], abs=1e-4)
    bad = subprocess.run(
        [exe, "route", "calibrate", str(tmp_path / "absent.jsonl"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "absent.jsonl" in bad.stderr


def _stream(rng: random.Random, n: int, high: float) -> list[Outcome]:
    """n scored requests whose scores lean high with probability `high` (the traffic mix), plus forced ones."""
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.05:
            out.append(Outcome(None, True))  # private or vision
        elif roll < 0.07:
            out.append(Outcome(None, False))  # explicit cloud choice
        else:
            out.append(Outcome(rng.betavariate(4, 2) if rng.random() < high else rng.betavariate(1.5, 6), True))
    return out


def _run(controller: ThresholdController, stream: list[Outcome]) -> float:
    """Feeds the stream through the controller, as the hook does; the sovereign share it produced."""
    kept = 0
    for outcome in stream:
        sovereign = outcome.sovereign if outcome.score is None else outcome.score < controller.current
        kept += sovereign
        controller.observe(Outcome(outcome.score, sovereign))
    return kept / len(stream)


def test_online_controller_holds_the_target_when_traffic_shifts() -> None:
    rng = random.Random(5)
    calm = _stream(rng, 2000, high=0.05)
    calibrated = threshold_for(calm, 0.9)
    controller = ThresholdController(calibrated, 0.9, OnlineConfig(window=500, min_decisions=50, max_shift=0.3))
    _run(controller, calm)
    harder = _stream(rng, 3000, high=0.2)  # more hard requests: a fixed threshold would escalate far more
    fixed = _share(harder, calibrated)
    _run(controller, harder[:1000])  # the window adapts
    live = _run(controller, harder[1000:])
    assert fixed < 0.85, fixed  # the shift is real: without the controller the share leaves the target
    assert abs(live - 0.9) <= 0.03, live
    assert controller.current > calibrated
    assert abs(controller.local_share() - 0.9) <= 0.04


def test_online_controller_stays_within_its_bounds() -> None:
    rng = random.Random(8)
    controller = ThresholdController(0.3, 0.9, OnlineConfig(window=200, min_decisions=20, max_shift=0.1))
    _run(controller, [Outcome(0.95 + rng.random() * 0.04, True) for _ in range(1000)])  # everything looks hard
    assert controller.current == pytest.approx(0.4)
    _run(controller, [Outcome(rng.random() * 0.01, True) for _ in range(1000)])  # everything looks easy
    assert controller.current == pytest.approx(0.2)
    off = ThresholdController(0.3, 0.9, OnlineConfig(enabled=False))
    _run(off, [Outcome(0.99, True) for _ in range(500)])
    assert off.current == 0.3


def test_online_config_is_validated() -> None:
    with pytest.raises(ValueError, match="sovereignty_target"):
        parse_config({"budget": {"monthly_usd": 0}, "sovereignty_target": 1.5})
    with pytest.raises(ValueError, match="window"):
        parse_config({"budget": {"monthly_usd": 0}, "sovereignty_online": {"window": 0}})
    cfg = load_config(SHIPPED)
    assert cfg.sovereignty_target == 0.9 and 0 < cfg.need.threshold < 1 and cfg.online.enabled


def _run_with_fallbacks(controller: ThresholdController, stream: list[Outcome], rescued: float, lost: float) -> float:
    """As _run, but what the tracker counts differs from what the gateway decided: `rescued` of the escalated
    requests are answered locally (the strong tier failed, LiteLLM fell back), `lost` of the local ones by a
    cloud tier (the local tier failed). The tracker's share over its window is fed back as the hook does; the
    share of answers the tracker counted over the second half is returned."""
    rng = random.Random(3)
    answers: deque[bool] = deque(maxlen=controller.config.window)
    counted = []
    for outcome in stream:
        decided = outcome.sovereign if outcome.score is None else outcome.score < controller.current
        answered = rng.random() >= lost if decided else rng.random() < rescued
        answers.append(answered)
        counted.append(answered)
        controller.follow(ObservedShare(sum(answers) / len(answers), len(answers)))
        controller.observe(Outcome(outcome.score, decided))
    half = counted[len(counted) // 2 :]
    return sum(half) / len(half)


@pytest.mark.parametrize(("rescued", "lost"), [(0.5, 0.0), (0.0, 0.05)])
def test_online_controller_steers_the_share_the_tracker_observes(rescued: float, lost: float) -> None:
    stream = _stream(random.Random(11), 6000, high=0.1)
    calibrated = threshold_for(stream[:2000], 0.9)
    online = OnlineConfig(window=500, min_decisions=50, max_shift=0.3)
    steered = _run_with_fallbacks(ThresholdController(calibrated, 0.9, online), stream, rescued, lost)
    blind = ThresholdController(calibrated, 0.9, dataclasses.replace(online, follow_tracker=False))
    blind.follow = lambda observed: None  # as when the tracker's Redis does not answer
    unsteered = _run_with_fallbacks(blind, stream, rescued, lost)
    assert abs(unsteered - 0.9) > 0.025, unsteered  # the gateway's own decisions alone miss what the tracker counts
    assert abs(steered - 0.9) <= 0.01, steered


def test_a_tracker_figure_over_too_few_answers_is_not_followed() -> None:
    controller = ThresholdController(0.3, 0.9, OnlineConfig(window=100, min_decisions=50))
    for _ in range(60):
        controller.observe(Outcome(0.1, True))
    controller.follow(ObservedShare(0.0, 49))
    assert controller.wanted_share() == 0.9
    controller.follow(ObservedShare(0.5, 50))
    assert controller.wanted_share() == 1.0  # own 100% local, the tracker 50%: aim higher (bounded at 1)
    controller.follow(ObservedShare(None, 0))
    assert controller.wanted_share() == 0.9


async def _hard_traffic(hook: RoutingHook, requests: int) -> list[str]:
    tiers = []
    for i in range(requests):
        out = await hook.async_pre_call_hook(None, None, ask(f"{HARD_PROMPT} (case {i})"), "acompletion")
        tiers.append(out["metadata"]["maximus_tier"])
        await asyncio.sleep(0.005)  # lets the background read of the tracker's share run
    return tiers


async def test_hook_follows_the_share_the_tracker_observed(config, monkeypatch, redis_server) -> None:
    """Through a real Redis: the same hard traffic, and a tracker that saw fewer or more local answers than the
    gateway decided, moves the threshold up or down from where the gateway's own decisions put it."""
    online = OnlineConfig(
        window=40, min_decisions=20, recompute_every=5, max_shift=0.99 - config.need.threshold, tracker_refresh_s=0.05
    )
    monkeypatch.setenv("MAXIMUS_REDIS_URL", redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    thresholds = {}
    try:
        for label, flags in (("none", []), ("all cloud", ["0"] * 40), ("all local", ["1"] * 40)):
            client.delete(online.tracker_key)
            if flags:
                client.rpush(online.tracker_key, *flags)
            steered = RoutingPolicy(dataclasses.replace(config, sovereignty_target=0.9, online=online))
            monkeypatch.setattr(litellm_hook, "default_policy", lambda steered=steered: steered)
            hook = RoutingHook()
            tiers = await _hard_traffic(hook, 60)
            hook._tracker_share.stop()
            assert hook.sovereignty.observed.answers == len(flags)
            thresholds[label] = hook.sovereignty.current
            if label == "all cloud":
                assert tiers[-20:].count("local") == 20  # the tracker saw nothing stay local: everything does now
    finally:
        client.delete(online.tracker_key)
        client.close()
    assert thresholds["all cloud"] > thresholds["none"] > thresholds["all local"], thresholds


async def test_hook_raises_its_threshold_under_hard_traffic_and_says_so(config, monkeypatch) -> None:
    # The bound lets the threshold reach the top of its range (0.99), whatever the need model's scale.
    online = OnlineConfig(
        window=40, min_decisions=20, recompute_every=5, max_shift=0.99 - config.need.threshold, follow_tracker=False
    )
    steered = RoutingPolicy(dataclasses.replace(config, sovereignty_target=0.9, online=online))
    monkeypatch.setattr(litellm_hook, "default_policy", lambda: steered)
    hook = RoutingHook()
    tiers, kept = [], []
    for i in range(60):
        out = await hook.async_pre_call_hook(None, None, ask(f"{HARD_PROMPT} (case {i})"), "acompletion")
        tiers.append(out["metadata"]["maximus_tier"])
        kept.append(any("but kept local" in r for r in out["metadata"]["maximus_route_detail"]))
    assert tiers[0] == "power"  # the calibrated threshold alone escalates this request
    assert hook.sovereignty.current > config.need.threshold
    assert tiers[-20:].count("local") >= 15  # the live share is back near the target
    assert all(k == (t == "local") for k, t in zip(kept, tiers, strict=True))  # each one kept local says why
    private = await hook.async_pre_call_hook(None, None, ask(f"token {fakes.GITHUB_TOKEN}"), "acompletion")
    assert private["metadata"]["maximus_pinned_local"] is True  # privacy keeps its guarantee whatever the threshold


def test_route_stream_uses_the_calibrated_threshold_not_the_live_one() -> None:
    from router.cli import route_stream

    out = io.StringIO()
    route_stream(io.StringIO(json.dumps(ask(HARD_PROMPT)) + "\n"), out)
    line = json.loads(out.getvalue())
    assert line["tier"] == "power" and f"threshold {load_config().need.threshold:.2f}" in " ".join(line["reasons"])
