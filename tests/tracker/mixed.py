"""A mixed load driven through the real callback hooks, and the totals it must produce (computed by hand)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.tracker.shapes import attempt_kwargs, request_data
from tracker.litellm_callback import SovereigntyEventPublisher

PT, CT = 11, 5
CLOUD_COST = (PT * 1000.0 + CT * 2000.0) / 1e6  # tracker_test.yaml prices for max-cloud
PRIVACY_REASON = "privacy"
EXPLICIT = ["explicit"]
SAVED_EACH = (PT * 3.0 + CT * 15.0) / 1e6  # cloud reference price for one sovereign answer


@dataclass(frozen=True)
class Expected:
    cycles: int

    @property
    def answered(self) -> dict[str, int]:
        return {
            "local": 3 * self.cycles,
            "power": self.cycles,
            "creative": self.cycles,
            "vision": self.cycles,
            "cloud": self.cycles,
        }

    @property
    def failures(self) -> dict[str, int]:
        return {"local": 0, "power": 0, "creative": 0, "vision": 0, "cloud": self.cycles}

    @property
    def ratio(self) -> float:
        return 4 / 7

    @property
    def cost(self) -> float:
        return CLOUD_COST * self.cycles

    @property
    def saved(self) -> float:
        return SAVED_EACH * 4 * self.cycles


async def drive_cycle(cb: SovereigntyEventPublisher, prefix: str) -> None:
    """Eight requests: every tier, two streamed, one fallback (power -> local), one failure (cloud)."""
    ok = cb.async_log_success_event
    await ok(attempt_kwargs(f"{prefix}-0", "max-buddy", "local", reasons=["default"]), None, None, None)
    await ok(
        attempt_kwargs(
            f"{prefix}-1", "max-planner", "local", stream=True, reasons=[PRIVACY_REASON], privacy=["secret"]
        ),
        None,
        None,
        None,
    )
    await ok(attempt_kwargs(f"{prefix}-2", "max-genius", "power", reasons=["code"]), None, None, None)
    await ok(
        attempt_kwargs(f"{prefix}-3", "max-opus", "creative", stream=True, reasons=["creative"]),
        None,
        None,
        None,
    )
    await ok(attempt_kwargs(f"{prefix}-4", "max-vision", "vision", reasons=["vision"]), None, None, None)
    await ok(
        attempt_kwargs(f"{prefix}-5", "max-cloud", "cloud", cost=123.0, reasons=["explicit"]),
        None,
        None,
        None,
    )
    # Fallback: the power attempt fails, LiteLLM reports the fallback, the local group answers.
    flaky = f"{prefix}-6"
    await cb.async_log_failure_event(
        attempt_kwargs(flaky, "max-flaky", "power", status="failure", reasons=["code"]),
        None,
        None,
        None,
    )
    await cb.log_success_fallback_event(
        "max-flaky", {"litellm_call_id": flaky, "model": "max-buddy"}, RuntimeError("503")
    )
    await ok(
        attempt_kwargs(
            flaky,
            "max-buddy",
            "local",
            fallback_from="max-flaky",
            routed_tier="power",
            reasons=["code"],
        ),
        None,
        None,
        None,
    )
    # Failure: the cloud attempt fails and the proxy answers the client with an error.
    dead = f"{prefix}-7"
    await cb.async_log_failure_event(
        attempt_kwargs(dead, "max-dead", "cloud", status="failure", reasons=EXPLICIT), None, None, None
    )
    await cb.async_post_call_failure_hook(
        request_data(dead, "max-dead", "cloud", reasons=EXPLICIT), RuntimeError("503"), None
    )


def assert_stats(stats: dict, exp: Expected) -> None:
    for tier, count in exp.answered.items():
        assert stats["tiers"][tier]["requests"] == count, tier
        assert stats["tiers"][tier]["failures"] == exp.failures[tier], tier
        assert stats["tiers"][tier]["input_tokens"] == PT * count
        assert stats["tiers"][tier]["output_tokens"] == CT * count
    assert stats["requests"] == 7 * exp.cycles
    assert stats["failures"] == exp.cycles
    assert abs(stats["sovereignty_ratio"]["all_time"] - exp.ratio) < 1e-9
    assert abs(stats["sovereignty_ratio"]["last_24h"] - exp.ratio) < 1e-9
    assert abs(stats["cost_usd"] - exp.cost) < 1e-9
    assert abs(stats["budget"]["spent_usd"] - exp.cost) < 1e-9
    assert abs(stats["saved_usd"]["all_time"] - exp.saved) < 1e-9
    assert stats["fallbacks"] == {"power->local": exp.cycles}
    assert stats["privacy_pins"] == {"secret": exp.cycles}
    decisions = stats["route_decisions"]
    expected = {
        "local:default": exp.cycles,
        "local:privacy": exp.cycles,
        "power:code": 2 * exp.cycles,
        "creative:creative": exp.cycles,
        "vision:vision": exp.cycles,
        "cloud:explicit": 2 * exp.cycles,
    }
    assert decisions == expected, decisions
    assert stats["tiers"]["power"]["attempt_failures"] == exp.cycles
    assert stats["tiers"]["cloud"]["attempt_failures"] == exp.cycles
