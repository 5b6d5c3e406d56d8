"""LiteLLM-shaped callback arguments, as LiteLLM 1.108.7's proxy passes them (checked against a real proxy):
kwargs["litellm_call_id"], kwargs["standard_logging_object"] and kwargs["litellm_params"]["metadata"].
"""

from __future__ import annotations

import time
from typing import Any


def attempt_kwargs(
    call_id: str,
    group: str,
    tier: str,
    *,
    status: str = "success",
    stream: bool = False,
    prompt_tokens: int = 11,
    completion_tokens: int = 5,
    cost: float = 0.0,
    latency: float = 0.05,
    fallback_from: str | None = None,
    routed_tier: str | None = None,
    reasons: list[str] | None = None,
    privacy: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`metadata`: more keys of kwargs["litellm_params"]["metadata"] (e.g. what the request body's metadata held)."""
    end = time.time()
    failed = status == "failure"
    slo = {
        "id": f"chatcmpl-{call_id}" if not failed else call_id,
        "litellm_call_id": call_id,
        "status": status,
        "stream": True if stream else None,
        "model": f"openai/{group}",
        "model_group": group,
        "prompt_tokens": 0 if failed else prompt_tokens,
        "completion_tokens": 0 if failed else completion_tokens,
        "total_tokens": 0 if failed else prompt_tokens + completion_tokens,
        "response_cost": 0.0 if failed else cost,
        "startTime": end - latency,
        "endTime": end,
        "completionStartTime": end - latency / 2,
        "error_information": {"error_class": "ServiceUnavailableError"} if failed else {},
        "messages": [{"role": "user", "content": "PROMPT TEXT MUST NOT BE TRACKED"}],
    }
    metadata = {
        "model_group": group,
        "model_info": {"sovereign_tier": tier, "id": "dep-" + group},
        "original_model_group": fallback_from or group,
        "attempted_fallbacks": 1 if fallback_from else 0,
        "maximus_tier": routed_tier or tier,
        "maximus_route_reasons": reasons if reasons is not None else ["default"],
        "maximus_privacy_kinds": privacy or [],
        **(metadata or {}),
    }
    return {
        "litellm_call_id": call_id,
        "standard_logging_object": slo,
        "litellm_params": {"metadata": metadata},
        "messages": slo["messages"],
    }


def request_data(
    call_id: str, group: str, tier: str, *, reasons: list[str] | None = None, privacy: list[str] | None = None
) -> dict[str, Any]:
    """What async_post_call_failure_hook receives when the proxy answers the client with an error."""
    return {
        "litellm_call_id": call_id,
        "model": group,
        "messages": [{"role": "user", "content": "secret"}],
        "metadata": {
            "model_group": group,
            "model_info": {"sovereign_tier": tier},
            "litellm_received_at": time.time() - 0.1,
            "maximus_tier": tier,
            "maximus_route_reasons": reasons or ["default"],
            "maximus_privacy_kinds": privacy or [],
        },
    }


def refused_request_data(call_id: str, asked_group: str, privacy: list[str]) -> dict[str, Any]:
    """What async_post_call_failure_hook receives when the routing hook refused a request with 403 (private
    data, privacy.action: refuse, a model that is not local): data["model"] still names the model asked for, no
    deployment was picked, and the router's metadata names the sovereign tier it was pinned to."""
    return {
        "litellm_call_id": call_id,
        "model": asked_group,
        "messages": [{"role": "user", "content": "secret"}],
        "metadata": {
            "litellm_received_at": time.time() - 0.1,
            "maximus_tier": "local",
            "maximus_model": asked_group,
            "maximus_route_reasons": ["privacy"],
            "maximus_privacy_kinds": privacy,
            "maximus_pinned_local": True,
            "maximus_explicit": True,
        },
    }
