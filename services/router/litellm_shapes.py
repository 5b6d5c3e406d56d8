"""What the LiteLLM hook (router.litellm_hook) needs to route every API shape the same way:

- which metadata dict carries the routing decision: on /v1/messages and /v1/responses LiteLLM 1.108.7 keeps its
  own metadata in data["litellm_metadata"] (what its logging callbacks and the tracker read as
  litellm_params.metadata) while data["metadata"] is the client's, sent on to the provider; elsewhere it is
  data["metadata"];
- the local model groups' Ollama models, read from the proxy's model list, for router.capabilities;
- the alias a client asked for (Claude Code's claude-sonnet-4-5), echoed as the answer's `model`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from router.capabilities import CapabilityReader, ollama_model_name
from router.policy import RoutingPolicy
from router.tier_errors import address_of

log = logging.getLogger("maximus.router")

LITELLM_BUCKET = "litellm_metadata"
CLIENT_BUCKET = "metadata"
# The shapes whose LiteLLM metadata lives in data["litellm_metadata"] (litellm_pre_call_utils LITELLM_METADATA_ROUTES).
OWN_BUCKET_SHAPES = frozenset({"messages", "responses"})
ALIAS_META = "maximus_requested_model"  # the client's model name, routed as the virtual model


def decision_bucket(data: dict[str, Any], shape: str) -> dict[str, Any]:
    """The dict the decision goes into (created when missing)."""
    key = LITELLM_BUCKET if shape in OWN_BUCKET_SHAPES or isinstance(data.get(LITELLM_BUCKET), dict) else CLIENT_BUCKET
    bucket = data.get(key)
    if not isinstance(bucket, dict):
        bucket = data[key] = {}
    return bucket


def buckets(data: Any) -> Iterator[Mapping[str, Any]]:
    """Every metadata dict of a request, LiteLLM's own first."""
    if isinstance(data, dict):
        for key in (LITELLM_BUCKET, CLIENT_BUCKET):
            value = data.get(key)
            if isinstance(value, dict):
                yield value


def routed_metadata(data: Any) -> Mapping[str, Any] | None:
    """The metadata dict holding the routing decision (maximus_tier), wherever the shape keeps it."""
    return next((bucket for bucket in buckets(data) if "maximus_tier" in bucket), None)


def requested_alias(data: Any) -> str | None:
    metadata = routed_metadata(data)
    alias = metadata.get(ALIAS_META) if metadata is not None else None
    return alias if isinstance(alias, str) else None


def local_group_models(policy: RoutingPolicy) -> dict[str, str]:
    """Each local group's Ollama model, from the proxy's model list (its first Ollama deployment)."""
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:
        return {}
    groups = set(policy.config.tiers["local"].models.values())
    found: dict[str, str] = {}
    for deployment in getattr(llm_router, "model_list", None) or ():
        group = deployment.get("model_name")
        params = deployment.get("litellm_params") or {}
        name = ollama_model_name(str(params.get("model", "")))
        if group in groups and name and group not in found:
            found[group] = name
    return found


def capability_reader(policy: RoutingPolicy) -> CapabilityReader | None:
    """The background reader of the local groups' capabilities (None without an Ollama group)."""
    models = local_group_models(policy)
    endpoint = policy.config.endpoints.get("local")
    if not models or endpoint is None:
        return None
    settings = policy.config.shapes
    return CapabilityReader(address_of(endpoint), models, settings.refresh_s, settings.timeout_s)


def echo_model(response: Any, alias: str) -> None:
    """The answer's `model` is the name the client asked for (a dict or a LiteLLM response object)."""
    if isinstance(response, dict):
        if "model" in response:
            response["model"] = alias
    elif hasattr(response, "model"):
        try:
            response.model = alias
        except (AttributeError, TypeError, ValueError):
            log.debug("could not echo the model name on %s", type(response).__name__)
