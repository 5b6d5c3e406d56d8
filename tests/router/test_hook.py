"""The LiteLLM hook called directly (the proxy path is in test_through_litellm.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download when LiteLLM imports

import pytest
from fastapi import HTTPException

from router import litellm_hook
from router.health import RedisTierHealth
from router.litellm_hook import RoutingHook, proxy_hook
from router.policy import RoutingPolicy
from tests.router import fakes
from tests.router.fakes import ask
from tests.router.test_request import MALFORMED


def test_hooks_are_defined_on_the_registered_class() -> None:
    # The proxy skips hooks inherited from a base class (docs/reference/litellm.md).
    assert "async_pre_call_hook" in vars(type(proxy_hook))
    assert "async_post_call_response_headers_hook" in vars(type(proxy_hook))
    assert "async_post_call_streaming_iterator_hook" in vars(type(proxy_hook))


async def test_max_auto_is_rewritten_with_metadata_and_headers() -> None:
    hook = RoutingHook()
    data = ask(fakes.HARD_PROMPT)
    data["proxy_server_request"] = {"headers": {}}
    out = await hook.async_pre_call_hook(None, None, data, "acompletion")
    assert out["model"] == "max-genius"
    assert out["metadata"]["maximus_tier"] == "power"
    assert out["metadata"]["maximus_route_reasons"]
    score = out["metadata"]["maximus_route_score"]
    assert isinstance(score, float) and score >= hook.sovereignty.current
    headers = await hook.async_post_call_response_headers_hook(out, None, None)
    assert headers["x-maximus-tier"] == "power" and "classifier: power" in headers["x-maximus-route-reason"]
    assert float(headers["x-maximus-route-score"]) == pytest.approx(score, abs=1e-4)


async def test_route_score_header_is_null_without_text() -> None:
    hook = RoutingHook()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    out = await hook.async_pre_call_hook(None, None, fakes.request(fakes.user([image])), "acompletion")
    assert out["metadata"]["maximus_route_score"] is None
    headers = await hook.async_post_call_response_headers_hook(out, None, None)
    assert headers["x-maximus-route-score"] == "null" and headers["x-maximus-tier"] == "vision"


async def test_header_tier_from_the_proxy_request() -> None:
    data = ask("hello")
    data["proxy_server_request"] = {"headers": {"X-Maximus-Tier": "creative"}}
    out = await RoutingHook().async_pre_call_hook(None, None, data, "acompletion")
    assert out["model"] == "max-opus"


async def test_private_request_is_pinned_and_fallbacks_disabled() -> None:
    data = ask(f"deploy with {fakes.DB_URL}", model="max-genius", fallbacks=["max-cloud-openai"])
    out = await RoutingHook().async_pre_call_hook(None, None, data, "acompletion")
    assert out["model"] in ("max-buddy", "max-planner")
    assert out["disable_fallbacks"] is True and "fallbacks" not in out
    assert out["metadata"]["maximus_privacy_kinds"] == ["secret"]
    assert out["metadata"]["maximus_route_reasons"] == ["explicit", "privacy"]
    assert out["metadata"]["maximus_pinned_local"] is True


async def test_refuse_policy_answers_403(config, monkeypatch) -> None:
    refusing = RoutingPolicy(dataclasses.replace(config, privacy=dataclasses.replace(config.privacy, action="refuse")))
    monkeypatch.setattr(litellm_hook, "default_policy", lambda: refusing)
    with pytest.raises(HTTPException) as caught:
        await RoutingHook().async_pre_call_hook(
            None, None, ask(f"key {fakes.AWS_KEY_ID}", model="max-opus"), "acompletion"
        )
    assert caught.value.status_code == 403
    assert fakes.AWS_KEY_ID not in str(caught.value.detail)


async def test_other_call_types_are_left_alone() -> None:
    data = {"model": "max-auto", "prompt": "a cat"}  # embeddings are routed: router.embeddings
    assert await RoutingHook().async_pre_call_hook(None, None, dict(data), "aimage_generation") == data


async def test_no_headers_without_a_decision() -> None:
    assert await RoutingHook().async_post_call_response_headers_hook({"metadata": {}}, None, None) is None


@pytest.mark.parametrize(("body", "param"), MALFORMED)
async def test_hook_answers_malformed_bodies_with_an_openai_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(HTTPException) as caught:
        await RoutingHook().async_pre_call_hook(None, None, body, "acompletion")
    assert caught.value.status_code == 400
    error = caught.value.detail["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


async def test_hook_requires_messages_for_chat_only() -> None:
    with pytest.raises(HTTPException):
        await RoutingHook().async_pre_call_hook(None, None, {"model": "max-auto"}, "acompletion")
    out = await RoutingHook().async_pre_call_hook(None, None, {"model": "max-auto", "input": "hi"}, "aresponses")
    # /v1/responses: LiteLLM's own metadata (what its callbacks read) is litellm_metadata; metadata is the client's
    assert out["litellm_metadata"]["maximus_tier"] == "local" and "metadata" not in out


async def test_hook_rereads_litellm_cooldowns_at_the_configured_interval(config, monkeypatch) -> None:
    calls = []

    async def fake_health(policy):
        calls.append(1)
        return litellm_hook.TierHealth()

    monkeypatch.setattr(litellm_hook, "litellm_tier_health", fake_health)
    for refresh, expected in ((3600.0, 1), (0.0, 3)):
        calls.clear()
        health = dataclasses.replace(config.health, source="litellm", litellm_refresh_s=refresh)
        policy = RoutingPolicy(dataclasses.replace(config, health=health))
        hook = RoutingHook()
        for _ in range(3):
            await hook._health(policy, RedisTierHealth(health, ()))
        assert len(calls) == expected


async def test_a_large_request_is_scanned_off_the_event_loop() -> None:
    # A scan of ~900,000 characters takes tens to hundreds of milliseconds: meanwhile a small request is served.
    hook = RoutingHook()
    await hook.async_pre_call_hook(None, None, ask("warm up"), "acompletion")
    finished: list[str] = []

    async def route(name: str, text: str) -> None:
        await hook.async_pre_call_hook(None, None, ask(text), "acompletion")
        finished.append(name)

    large = " ".join(f"line {i}: the quarterly numbers look fine" for i in range(22_000))
    await asyncio.gather(route("large", large), route("small", "hello there"))
    assert finished == ["small", "large"]
