"""The capability step of the routing policy, after the tier is chosen: a request the router sends to a local
model group goes to one whose Ollama model can serve it (tools → `tools`, images → `vision`; router.capabilities).

- The group the router picked can serve it: unchanged.
- Another local group can: that one, with the reason "capability: ...".
- An image request the vision tier cannot answer (tools, or a shape outside shapes.vision_tier_shapes): a local
  group with `vision` (and `tools` when the request has tools).
- None can: a non-private request goes to the power tier when shapes.escalate is on and budget, health and the
  key allow it; otherwise the decision carries `unservable`, the 400's message naming the model to pull.

Models the client named itself are left alone (its fallback chain serves them); unknown capabilities (Ollama not
read yet, or away) filter nothing. No framework imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.budget import BudgetStatus
from router.capabilities import LocalModels
from router.decision import Decision
from router.health import TierHealth
from router.request_view import RequestView

if TYPE_CHECKING:
    from router.policy import RoutingPolicy

ESCALATION_TIER = "power"


def apply(
    policy: RoutingPolicy,
    decision: Decision,
    view: RequestView,
    local: LocalModels | None,
    budget: BudgetStatus,
    health: TierHealth,
) -> Decision:
    if local is None or decision.refused or view.shape == "embedding":
        return decision
    if (decision.tier == "vision" and _vision_tier_serves(policy, view)) or decision.tier not in ("local", "vision"):
        return decision
    if decision.model == view.model:  # the client named this group: honoured as it is
        return decision
    needs = view.needs
    groups = tuple(dict.fromkeys(policy.config.tiers["local"].models.values()))
    if decision.tier == "local" and local.can(decision.model, needs):
        return decision
    group = local.first_serving(_preferred(groups, decision.model), needs)
    wanted = _names(needs)
    if group is not None:
        decision.reasons.append(f"capability: {wanted} -> {group} ({local.model_of(group)})")
        decision.tier, decision.model = "local", group
        return decision
    return _none_can(policy, decision, needs, wanted, budget, health)


def _vision_tier_serves(policy: RoutingPolicy, view: RequestView) -> bool:
    """The vision tier reads images and video but calls no tools, and answers only the shapes listed for it."""
    if view.has_video:
        return True
    return not view.has_tools and view.shape in policy.config.shapes.vision_tier_shapes


def _preferred(groups: tuple[str, ...], first: str) -> tuple[str, ...]:
    """The router's own pick first, then the local groups in routing.yaml's order (chat, reasoning)."""
    return (first, *(g for g in groups if g != first)) if first in groups else groups


def _names(needs: frozenset[str]) -> str:
    return " and ".join(sorted(needs - {"completion"})) or "completion"


def _none_can(
    policy: RoutingPolicy,
    decision: Decision,
    needs: frozenset[str],
    wanted: str,
    budget: BudgetStatus,
    health: TierHealth,
) -> Decision:
    settings = policy.config.shapes
    blocked = policy._unavailable(ESCALATION_TIER, budget, health)
    if settings.escalate and not decision.pinned_local and blocked is None:
        decision.reasons.append(f"capability: no local model has {wanted}: escalated to {ESCALATION_TIER}")
        decision.tier, decision.model = ESCALATION_TIER, policy.config.tiers[ESCALATION_TIER].model
        decision.scored = False
        return decision
    model = settings.model_to_pull(needs)
    pull = f"`ollama pull {model}`" if model else "`ollama pull` a model that has it"
    if decision.pinned_local:
        why = "it carries private data, which stays on this machine"
    elif not settings.escalate:
        why = "escalation is off (shapes.escalate in routing.yaml)"
    else:
        why = f"the {ESCALATION_TIER} tier is {blocked}"
    decision.reasons.append(f"capability: no local model has {wanted}; {why}")
    decision.unservable = (
        f"No local model can serve this request: it needs {wanted}, and {why}. Fix: {pull}, then name it in "
        "OLLAMA_CHAT_MODEL or OLLAMA_REASONING_MODEL."
    )
    return decision
