"""Per-person accounting and limits, in process: the person's figures come on top of the team's (which stay as
they are), Prometheus labels are capped, and a person's budget or tier list changes only that person's route."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from router.budget import BudgetStatus
from router.config import BudgetConfig
from router.health import TierHealth
from router.people import BUDGET_META, PERSON_META, TIERS_META, PersonLimits
from tracker import people
from tracker.accounting import increments, resolve
from tracker.events import AttemptEvent
from tracker.metrics import people_metrics
from tracker.settings import Settings


def counted(user: str | None, tier: str = "power") -> dict[str, float]:
    event = AttemptEvent(
        "success",
        "c1",
        model_group="max-genius",
        tier=tier,
        prompt_tokens=10,
        completion_tokens=2,
        response_cost=0.5,
        user=user,
    )
    inc = increments(resolve(event, Settings(), {}))
    return dict(inc.totals), dict(inc.month)


def test_a_persons_figures_add_to_the_teams_without_changing_them() -> None:
    totals, month = counted("alice")
    anonymous_totals, _ = counted(None)
    team = {k: v for k, v in totals.items() if not k.startswith("user|")}
    assert team == {k: v for k, v in anonymous_totals.items() if not k.startswith("user|")}
    assert totals["user|alice|req|power|success"] == 1 and month["user|alice|cost_usd"] == 0.5
    assert "user|admin|req|power|success" in anonymous_totals  # the master key's requests are the admin's
    assert "user|other|req|power|success" in counted("Not A Name")[0]


def test_prometheus_labels_are_capped_and_the_rest_summed_under_other() -> None:
    totals: dict[str, float] = {}
    for name in ("ann", "ben", "cat", "dan"):
        totals.update({f"user|{name}|req|local|success": 1.0})
    families = {f.name: f for f in people_metrics(totals, {}, cap=2)}
    samples = {
        (s.labels["user"]): s.value
        for s in families["maximus_user_requests"].samples
        if s.labels["tier"] == "local" and s.labels["outcome"] == "success"
    }
    assert samples == {"ann": 1.0, "ben": 1.0, "other": 2.0}


def identity(name: str, budget: float | None = None, tiers: list[str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(metadata={PERSON_META: name, BUDGET_META: budget, TIERS_META: tiers})


class FixedSpend:
    def __init__(self, spent: dict[str, float]) -> None:
        self.spent = spent

    async def aread(self, name: str) -> tuple[float | None, float]:
        return self.spent.get(name, 0.0), 0.1


def test_only_the_person_over_budget_is_blocked() -> None:
    limits = PersonLimits(BudgetConfig(monthly_usd=20.0))
    limits._spend = FixedSpend({"carol": 0.2, "alice": 0.2})
    team = BudgetStatus("ok", 0.4, 20.0, 0.1)
    carol = asyncio.run(limits.budget(identity("carol", 0.1), team))
    assert carol.blocks_cloud and "carol's month-to-date spend" in carol.reason()
    assert asyncio.run(limits.budget(identity("alice"), team)) is team  # no budget of her own
    assert asyncio.run(limits.budget(SimpleNamespace(metadata={}), team)) is team  # the master key


def test_a_tier_outside_the_key_is_down_for_that_person_only() -> None:
    health = PersonLimits.health(identity("bob", tiers=["local", "power"]), TierHealth())
    assert set(health.down) == {"vision", "creative", "cloud"} and "bob" in health.down["creative"]
    assert PersonLimits.health(identity("alice"), TierHealth()).down == {}


def test_a_persons_summary() -> None:
    rows = people.collect({"user|ann|req|local|success": 3, "user|ann|req|power|success": 1}, {})
    assert people.summary(rows["ann"])["sovereignty_ratio"]["all_time"] == 0.75
