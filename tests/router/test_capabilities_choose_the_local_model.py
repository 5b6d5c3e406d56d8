"""Capabilities: tools go to a local model with `tools`, images to one with `vision` (Ollama's /api/show, read in
the background by router.capabilities), on every API shape; none that can: an escalation or a 400 naming the fix."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from fastapi import HTTPException

from router import litellm_hook
from router.budget import BudgetStatus
from router.capabilities import CapabilityReader, LocalModels
from router.health import TierHealth
from router.litellm_hook import RoutingHook
from router.policy import RoutingPolicy
from router.request_view import view_of
from tests.router import fakes
from tests.router.test_request_view_reads_every_shape import ANTHROPIC_IMAGE, ANTHROPIC_TOOL, CHAT_TOOL, SAME_QUESTION
from tests.support import stack

SHIPPED = LocalModels(
    {"max-buddy": "gemma3", "max-planner": "llama3.1"},
    {"gemma3": frozenset({"completion", "vision"}), "llama3.1": frozenset({"completion", "tools"})},
)
NEITHER_HAS_TOOLS = LocalModels(
    SHIPPED.models, {"gemma3": frozenset({"completion", "vision"}), "llama3.1": frozenset({"completion"})}
)
UNCAPPED = BudgetStatus(state="uncapped")


def decide(policy: RoutingPolicy, body: dict, call_type: str, local: LocalModels | None = SHIPPED, **kwargs):
    return policy.decide(body, view=view_of(body, call_type), local=local, budget=UNCAPPED, **kwargs)


@pytest.mark.parametrize(
    ("call_type", "body"), SAME_QUESTION, ids=["chat", "responses-text", "responses-items", "messages"]
)
def test_tools_reach_the_model_that_has_tools_on_every_shape(policy, call_type, body) -> None:
    decision = decide(policy, body, call_type)
    assert (decision.tier, decision.model) == ("local", "max-planner")
    assert "capability: tools -> max-planner (llama3.1)" in decision.reasons
    assert decision.reason_codes()[-1] == "capability"


def test_without_tools_the_router_keeps_its_pick(policy) -> None:
    decision = decide(policy, fakes.ask("hello there"), "acompletion")
    assert decision.model == "max-buddy" and not any(r.startswith("capability") for r in decision.reasons)


def test_an_anthropic_image_reaches_the_local_model_with_vision(policy) -> None:
    body = {
        "model": "max-auto",
        "max_tokens": 50,
        "messages": [fakes.user([ANTHROPIC_IMAGE, {"type": "text", "text": "what is it"}])],
    }
    decision = decide(policy, body, "anthropic_messages")
    assert (decision.tier, decision.model) == ("local", "max-buddy")
    assert "capability: vision -> max-buddy (gemma3)" in decision.reasons


def test_a_chat_image_still_goes_to_the_vision_tier(policy) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert decide(policy, fakes.request(fakes.user([image])), "acompletion").tier == "vision"


def test_an_image_with_tools_needs_both_and_escalates_when_allowed(policy) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = fakes.request(fakes.user([image, {"type": "text", "text": "describe"}]), tools=[CHAT_TOOL])
    decision = decide(policy, body, "acompletion")
    assert (decision.tier, decision.model) == ("power", "max-genius")
    assert "capability: no local model has tools and vision: escalated to power" in decision.reasons
    assert decision.unservable is None


def test_no_capable_model_and_power_down_is_a_400_naming_the_pull(policy) -> None:
    body = {
        "model": "max-auto",
        "max_tokens": 9,
        "messages": [fakes.user("what time is it")],
        "tools": [ANTHROPIC_TOOL],
    }
    decision = decide(
        policy, body, "anthropic_messages", local=NEITHER_HAS_TOOLS, health=TierHealth({"power": "cooling down"})
    )
    assert decision.unservable is not None
    assert "needs tools" in decision.unservable and "`ollama pull llama3.1`" in decision.unservable
    assert "power tier is cooling down" in decision.unservable


def test_private_data_is_never_escalated_for_a_capability(policy) -> None:
    body = fakes.request(fakes.user(f"run it with {fakes.DB_URL}"), tools=[CHAT_TOOL])
    decision = decide(policy, body, "acompletion", local=NEITHER_HAS_TOOLS)
    assert decision.pinned_local and decision.tier == "local"
    assert "private data" in decision.unservable and "ollama pull llama3.1" in decision.unservable
    # with a capable model it is simply served locally
    served = decide(policy, body, "acompletion")
    assert (served.model, served.unservable) == ("max-planner", None)


def test_escalation_off_answers_400(config) -> None:
    shapes = dataclasses.replace(config.shapes, escalate=False)
    policy = RoutingPolicy(dataclasses.replace(config, shapes=shapes))
    decision = decide(policy, fakes.ask("what time is it", tools=[CHAT_TOOL]), "acompletion", local=NEITHER_HAS_TOOLS)
    assert decision.tier == "local" and "shapes.escalate" in decision.unservable


def test_a_model_the_client_named_is_left_to_its_fallbacks(policy) -> None:
    decision = decide(policy, fakes.ask("what time is it", model="max-buddy", tools=[CHAT_TOOL]), "acompletion")
    assert decision.model == "max-buddy" and decision.unservable is None


def test_unknown_capabilities_filter_nothing(policy) -> None:
    decision = decide(policy, fakes.ask("what time is it", tools=[CHAT_TOOL]), "acompletion", local=None)
    assert decision.model == "max-buddy" and decision.unservable is None


def test_claude_names_are_aliases_of_max_auto_on_messages_only(policy) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 9, "messages": [fakes.user("hello there")]}
    decision = decide(policy, body, "anthropic_messages")
    assert (decision.tier, decision.explicit) == ("local", False)
    chat = decide(policy, {**body, "max_tokens": None}, "acompletion")
    assert chat.explicit and chat.model == "claude-sonnet-4-5", "on chat completions the name is the client's choice"


async def test_the_hook_answers_an_unservable_request_with_a_400(monkeypatch) -> None:
    hook = RoutingHook()
    hook._state()
    hook._capabilities = _FixedReader(NEITHER_HAS_TOOLS)
    monkeypatch.setattr(litellm_hook, "litellm_tier_health", _power_down)
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 1,
        "messages": [fakes.user("what time is it")],
        "tools": [ANTHROPIC_TOOL],
    }
    with pytest.raises(HTTPException) as caught:
        await hook.async_pre_call_hook(None, None, body, "anthropic_messages")
    assert caught.value.status_code == 400
    error = caught.value.detail["error"]
    assert error["code"] == "capability_missing" and "ollama pull llama3.1" in error["message"]


class _FixedReader:
    def __init__(self, snapshot: LocalModels) -> None:
        self.snapshot = snapshot

    async def latest(self, wait_first_s: float) -> LocalModels:
        return self.snapshot


async def _power_down(policy) -> TierHealth:
    return TierHealth({"power": "cooling down", "creative": "cooling down", "vision": "cooling down"})


def test_the_reader_follows_ollama_show_and_its_changes(tmp_path: Path) -> None:
    """Against the Ollama double (Ollama 0.12.6's /api/show): a model not pulled has no capabilities, and a pull
    that changes them is seen on the next background read."""

    async def scenario(double: stack.HttpDouble) -> None:
        reader = CapabilityReader(double.base_url, {"max-buddy": "gemma3", "max-planner": "llama3.1"}, 0.05, 2.0)
        snapshot = await reader.latest(wait_first_s=5.0)
        assert snapshot is not None and snapshot.first_serving(["max-buddy", "max-planner"], {"tools"}) == "max-planner"
        assert snapshot.can("max-buddy", {"vision"}) and not snapshot.can("max-buddy", {"tools"})
        import httpx

        async with httpx.AsyncClient() as client:
            await client.put(
                f"{double.base_url}/_double/models",
                json={"models": ["gemma3"], "capabilities": {"gemma3": ["completion", "vision", "tools"]}},
            )
        for _ in range(100):
            await asyncio.sleep(0.05)
            snapshot = reader.snapshot
            if snapshot is not None and snapshot.can("max-buddy", {"tools"}):
                break
        reader.stop()
        assert snapshot.can("max-buddy", {"tools", "vision"})
        assert snapshot.capabilities["llama3.1"] == frozenset(), "removed from Ollama: no capabilities"

    with stack.ollama_double(tmp_path, models="gemma3,llama3.1") as double:
        asyncio.run(scenario(double))


def test_the_reader_keeps_no_snapshot_while_ollama_is_away() -> None:
    reader = CapabilityReader(stack.closed_port_url(), {"max-buddy": "gemma3"}, 0.05, 0.5)
    asyncio.run(reader.refresh())
    assert reader.snapshot is None
