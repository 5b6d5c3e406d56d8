"""/v1/embeddings inside the LiteLLM proxy: what router.embeddings needs from the running proxy, and its answers.

- before the call: the proxy's model groups (which tier, which embed: model_info.mode embedding), a token decoder
  (cl100k_base, the tokenizer of OpenAI's embedding models, as LiteLLM's proxy itself decodes token arrays for a
  provider that takes none), the privacy scan on a worker thread for a large input, and the rewritten request;
- after it: the `base64` encoding_format (LiteLLM drops it for Ollama, whose vectors come back as floats), and a
  check that the answer holds one vector per input;
- on a failure that is not an outage (router.tier_errors answers those): an Ollama error for the local embedding
  model (not pulled, input refused) as a clean OpenAI error that names the fix, without LiteLLM's text.

LiteLLM is imported lazily, inside the functions that need the running proxy (router.embeddings stays free of it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from router import embeddings
from router.budget import BudgetStatus
from router.embeddings import API_META, FORMAT_META, EmbeddingPolicy, EmbeddingRefusal, Group
from router.policy import RoutingPolicy
from router.tier_errors import address_of

log = logging.getLogger("maximus.router.embeddings")
_OLLAMA_ERROR = re.compile(r'\{"error":\s*"((?:[^"\\]|\\.)*)"\}')
_NOT_FOUND = re.compile(r"model ['\"]?[^'\"]+['\"]? not found")
_POLICIES: dict[int, EmbeddingPolicy] = {}


def policy_for(policy: RoutingPolicy) -> EmbeddingPolicy:
    """One embedding policy per routing policy (its settings are routing.yaml's `embeddings`)."""
    found = _POLICIES.get(id(policy))
    if found is None:
        config = policy.config
        found = _POLICIES[id(policy)] = EmbeddingPolicy(
            embeddings.load_settings(config.source),
            config.virtual_model,
            config.explicit_header,
            config.explicit_metadata_key,
            policy.guard.scan,
        )
    return found


def proxy_groups() -> dict[str, Group]:
    """The running proxy's model groups: the tier (model_info.sovereign_tier) and whether the group embeds."""
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:
        return {}
    groups: dict[str, Group] = {}
    for deployment in getattr(llm_router, "model_list", None) or []:
        info = deployment.get("model_info") or {}
        name = deployment.get("model_name")
        if isinstance(name, str):
            groups[name] = Group(info.get("sovereign_tier"), info.get("mode") == "embedding")
    return groups


def decode_tokens(tokens: list[int]) -> str:
    import litellm

    return litellm.decode(model="gpt-3.5-turbo", tokens=tokens)


async def route(data: dict[str, Any], policy: RoutingPolicy, headers: Mapping[str, str], budget: BudgetStatus) -> dict:
    """The request rewritten for the chosen embedding group; raises MalformedRequest or EmbeddingRefusal."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        metadata = data["metadata"] = {}
    metadata[API_META] = "embeddings"  # the tracker counts a refused request under its API too
    chooser = policy_for(policy)
    decide = lambda: chooser.decide(data, headers, proxy_groups(), budget, decode_tokens)  # noqa: E731
    large = _input_chars(data) > policy.config.privacy.offload_scan_chars
    decision = await asyncio.to_thread(decide) if large else decide()
    if decision.refused:
        metadata.update(decision.metadata())
        raise embeddings.refusal_of(decision, chooser.settings.model)
    return embeddings.apply(data, decision, decode_tokens)


def _input_chars(data: Mapping[str, Any]) -> int:
    value = data.get("input")
    if isinstance(value, str):
        return len(value)
    return sum(len(item) for item in value if isinstance(item, str | list)) if isinstance(value, list) else 0


# -- the answer --------------------------------------------------------------------------------------------
def _vectors(response: Any) -> list[Any] | None:
    items = getattr(response, "data", None)
    if not isinstance(items, list):
        return None
    return [item.get("embedding") if isinstance(item, dict) else getattr(item, "embedding", None) for item in items]


def _set_vector(item: Any, value: str) -> None:
    if isinstance(item, dict):
        item["embedding"] = value
    else:
        item.embedding = value


def finish(data: Mapping[str, Any], response: Any) -> Any:
    """The embedding answer as the client asked for it (base64 when it said so); None for other answers.
    Raises EmbeddingRefusal (502) when the answer does not hold one vector per input."""
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if metadata.get(API_META) != "embeddings":
        return None
    vectors = _vectors(response)
    if vectors is None:
        return None
    inputs = data.get("input")
    problem = embeddings.check_answer(vectors, len(inputs) if isinstance(inputs, list) else 1)
    if problem is not None:
        log.warning("embedding answer rejected: %s", problem)
        raise EmbeddingRefusal(
            502,
            f"the embedding model answered {problem}; check the model behind {data.get('model')}",
            "api_error",
            None,
            "bad_embedding_answer",
        )
    if metadata.get(FORMAT_META) == "base64":
        for item, vector in zip(response.data, vectors, strict=True):
            if isinstance(vector, list):
                _set_vector(item, embeddings.as_base64(vector))
    return response


# -- failures ----------------------------------------------------------------------------------------------
def _ollama_model(group: str) -> str | None:
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:
        return None
    for deployment in getattr(llm_router, "model_list", None) or []:
        if deployment.get("model_name") == group:
            model = str((deployment.get("litellm_params") or {}).get("model", ""))
            return model.split("/", 1)[1] if model.startswith("ollama/") else None
    return None


def _ollama_error(exc: BaseException) -> str | None:
    match = _OLLAMA_ERROR.search(str(exc))
    if match is None:
        return None
    try:
        return str(json.loads(f'"{match[1]}"'))[:300]
    except ValueError:
        return None


def failure(data: Mapping[str, Any], exc: BaseException, policy: RoutingPolicy) -> EmbeddingRefusal | None:
    """An Ollama error for a local embedding group as a clean error naming the fix; None for anything else."""
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    group = str(data.get("model") or "")
    if metadata.get(API_META) != "embeddings" or metadata.get("maximus_tier") != "local":
        return None
    text, model = _ollama_error(exc), _ollama_model(group)
    if text is None or model is None:
        return None
    endpoint = policy.config.endpoints.get("local")
    where = address_of(endpoint) if endpoint is not None else "Ollama"
    if _NOT_FOUND.search(text):
        return EmbeddingRefusal(
            503,
            f"local tier unavailable: the embedding model {model} of {group} is not pulled in Ollama at {where}: "
            f"run `ollama pull {model}` (or set OLLAMA_EMBED_MODEL to a pulled embedding model)",
            "service_unavailable_error",
            None,
            "local_embedding_model_missing",
        )
    status = getattr(exc, "status_code", None)
    if status == 400:
        return EmbeddingRefusal(
            400,
            f"the local embedding model {model} refused the input: {text}",
            "invalid_request_error",
            "input",
            "input_refused",
        )
    return EmbeddingRefusal(
        502, f"the local embedding model {model} failed at {where}: {text}", "api_error", None, "local_embedding_error"
    )
