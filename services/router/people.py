"""Per-person limits of a team key (maximus keys create NAME --budget USD --tiers ...): a monthly budget and the
tiers the person may use. Framework-free: the routing hook passes LiteLLM's auth object in, unread otherwise.

- Budget: the person's month-to-date spend (the tracker's durable month hash, field budget.user_spend_field) is
  re-read in the background with the team's spend (router.budget), never per request. Once it reaches the key's
  budget that person's requests go local, with the reason; everybody else is unaffected. The team's own cap and a
  stale figure block as they always did.
- Tiers: a tier the key does not list is treated as down for that person, with the reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from router.budget import BudgetStatus, UserSpendReader, evaluate
from router.config import BudgetConfig
from router.health import TierHealth

# Keys of the auth object's metadata (set by maximus.litellm_auth.team_identity).
PERSON_META = "maximus_person"
BUDGET_META = "maximus_budget_usd"
TIERS_META = "maximus_tiers"
NON_LOCAL = ("vision", "power", "creative", "cloud")


def person_of(identity: Any) -> tuple[str | None, float | None, tuple[str, ...] | None]:
    """(name, monthly budget, allowed tiers) of a team key's identity; (None, None, None) for the master key."""
    metadata = getattr(identity, "metadata", None)
    if not isinstance(metadata, dict) or not isinstance(metadata.get(PERSON_META), str):
        return None, None, None
    budget, tiers = metadata.get(BUDGET_META), metadata.get(TIERS_META)
    return (
        metadata[PERSON_META],
        float(budget) if isinstance(budget, int | float) else None,
        tuple(tiers) if isinstance(tiers, list | tuple) else None,
    )


class PersonLimits:
    def __init__(self, config: BudgetConfig, redis_url: str | None = None) -> None:
        self.config = config
        self._spend = UserSpendReader(config, redis_url)

    async def budget(self, identity: Any, team: BudgetStatus) -> BudgetStatus:
        """The team's status when it blocks or the key has no budget of its own, else the person's."""
        name, budget_usd, _ = person_of(identity)
        if name is None or budget_usd is None or team.blocks_cloud:
            return team
        spent, age = await self._spend.aread(name)
        person = evaluate(dataclasses.replace(self.config, monthly_usd=budget_usd), spent, age)
        if budget_usd <= 0:  # a budget of 0: nothing non-local for this person
            person = BudgetStatus("exceeded", spent or 0.0, 0.0, age)
        return dataclasses.replace(person, person=name) if person.state != "uncapped" else team

    @staticmethod
    def health(identity: Any, health: TierHealth) -> TierHealth:
        name, _, tiers = person_of(identity)
        if name is None or tiers is None:
            return health
        refused = {tier: f"not allowed for the key {name}" for tier in NON_LOCAL if tier not in tiers}
        return health.merged(TierHealth(refused)) if refused else health
