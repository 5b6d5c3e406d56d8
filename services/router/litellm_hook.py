"""LiteLLM hook: applies the routing policy (router.policy) to every chat request the proxy receives.

- pre-call: decides the tier, rewrites `model` (max-auto → a tier's group; explicit names honoured), pins private
  requests to a local group with `disable_fallbacks`, refuses them with 403 when routing.yaml says so, and puts
  the decision in data["metadata"] (maximus_tier, maximus_route_reasons: bounded codes, maximus_route_detail:
  sentences, maximus_privacy_kinds: bounded labels, ...).
- failure: a tier that did not answer becomes a clean OpenAI-style 503/504 naming the tier, its address and the fix
  (router.tier_errors), before the first chunk of a stream too; its code goes to data["metadata"]["maximus_error"]
  for the tracker. A tier that stalls after the first chunks ends the stream with the same clean error as LiteLLM's
  SSE error event (`data: {"error": {...}}`): the streaming iterator hook replaces LiteLLM's exception, whose text
  names its classes, with a TierStreamFailure that the proxy turns into that event.
- response headers: x-maximus-tier, x-maximus-route-reason, x-maximus-route-score and x-maximus-request-id on
  streaming and non-streaming answers; the request's record, re-asks and shadow judging run in the background
  (router.traffic_labels).
- the sovereignty target: the need threshold of each decision comes from router.sovereignty.ThresholdController,
  fed with this process's own decisions and with the tracker's observed local share, which a background task
  re-reads from Redis (no Redis round trip in the request path).

The proxy only calls hooks defined on the registered object's own class (see docs/reference/litellm.md), so
every hook is defined on RoutingHook itself. Nothing here logs request content or matched text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from router.adapter import AdapterReader
from router.budget import SpendReader, redis_url_from_env
from router.health import RedisTierHealth, TierHealth, merge
from router.people import PersonLimits
from router.policy import RoutingPolicy, default_policy
from router.redis_reads import BackgroundRedisRead
from router.request import MalformedRequest, all_texts, check_request
from router.sovereignty import Outcome, ThresholdController, tracker_share_reader
from router.tier_errors import TierFailure, describe, last_fallback, openai_error
from router.traffic_labels import TrafficLabels, with_request_id

log = logging.getLogger("maximus.router")

ROUTED_CALL_TYPES = frozenset(
    {"completion", "acompletion", "text_completion", "atext_completion", "responses", "aresponses"}
)
CHAT_CALL_TYPES = frozenset({"completion", "acompletion"})  # these need a non-empty `messages` array
ERROR_META = "maximus_error"  # the clean failure's code, for the tracker's request-failed event
TIER_HEADER = "x-maximus-tier"
REASON_HEADER = "x-maximus-route-reason"
SCORE_HEADER = "x-maximus-route-score"
CLOUD_TIERS = ("power", "creative", "vision")
_NOT_HEADER_SAFE = re.compile(r"[^\x20-\x7e]")  # one regex pass, not a generator per character


def request_headers(data: dict[str, Any]) -> dict[str, str]:
    server_request = data.get("proxy_server_request")
    headers = server_request.get("headers") if isinstance(server_request, dict) else None
    if not isinstance(headers, dict):
        metadata = data.get("metadata")
        headers = metadata.get("headers") if isinstance(metadata, dict) else None
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


async def litellm_tier_health(policy: RoutingPolicy) -> TierHealth:
    """Tiers whose model group is missing from the proxy or has every deployment cooling down."""
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:
        return TierHealth()
    if llm_router is None:
        return TierHealth()
    down: dict[str, str] = {}
    for tier in CLOUD_TIERS:
        group = policy.config.tiers[tier].model
        try:
            ids = llm_router.get_model_ids(model_name=group)
            if not ids:
                down[tier] = "not configured"
                continue
            cooling = await llm_router.cooldown_cache.async_get_active_cooldowns(model_ids=ids, parent_otel_span=None)
            if len({entry[0] for entry in cooling or ()}) >= len(ids):
                down[tier] = "cooling down"
        except Exception as exc:  # health is advisory: never fail a request over it
            log.debug("cooldown lookup failed for %s: %s", tier, type(exc).__name__)
    return TierHealth(down)


class OpenAIHTTPException(HTTPException):
    """An HTTPException whose detail is an OpenAI error body. The proxy builds its answer from the nested message
    and from the exception's own `type` and `param` attributes (litellm.proxy.common_utils.openai_error_payload),
    so they are set here too."""

    def __init__(self, status_code: int, message: str, type: str, param: str | None, code: str) -> None:
        error = {"message": message, "type": type, "param": param, "code": code}
        super().__init__(status_code=status_code, detail={"error": error})
        self.type = type
        self.param = param


def bad_request(exc: MalformedRequest) -> OpenAIHTTPException:
    return OpenAIHTTPException(400, exc.message, "invalid_request_error", exc.param, "invalid_request")


class TierStreamFailure(Exception):
    """A tier that stopped answering mid-stream. LiteLLM's proxy builds the stream's error event from these attributes
    (message, type, param, status_code: proxy_server.async_data_generator), and calls the failure hooks with it."""

    def __init__(self, failure: TierFailure) -> None:
        super().__init__(failure.message)
        error = openai_error(failure)
        self.failure = failure
        self.message, self.type, self.param, self.status_code = error["message"], error["type"], None, failure.status


def failed_tier(data: dict[str, Any], exc: BaseException, policy: RoutingPolicy) -> str | None:
    """The tier the request ended on: its last failed fallback, else the last deployment tried (LiteLLM's
    metadata), else the model the request asked for."""
    fallback = last_fallback(exc)
    if fallback is not None:
        return policy.config.tier_of_model(fallback[0])
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    model_info = metadata.get("model_info") if isinstance(metadata.get("model_info"), dict) else {}
    tier = model_info.get("sovereign_tier")
    if isinstance(tier, str) and tier in policy.config.endpoints:
        return tier
    model = data.get("model")
    return policy.config.tier_of_model(model) if isinstance(model, str) else None


class RoutingHook(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self._policy: RoutingPolicy | None = None
        self._spend: SpendReader | None = None
        self._redis_health: RedisTierHealth | None = None
        self._litellm_health = TierHealth()
        self._litellm_health_at = -1e18
        self.sovereignty: ThresholdController | None = None
        self._tracker_share: BackgroundRedisRead | None = None
        self._people: PersonLimits | None = None
        self._adapter: AdapterReader | None = None
        self._traffic: TrafficLabels | None = None

    def _state(self) -> tuple[RoutingPolicy, SpendReader, RedisTierHealth]:
        if self._policy is None:
            policy = default_policy()
            self._spend = SpendReader(policy.config.budget)
            self._redis_health = RedisTierHealth(policy.config.health, CLOUD_TIERS, policy.config.budget.redis_url_envs)
            self._people = PersonLimits(policy.config.budget)
            config = policy.config
            self.sovereignty = ThresholdController(config.need.threshold, config.sovereignty_target, config.online)
            url = redis_url_from_env(config.budget.redis_url_envs)
            if config.online.enabled and config.online.follow_tracker:
                self._tracker_share = tracker_share_reader(config.online, url, config.budget.timeout_s)
            self._adapter = AdapterReader(config.learning, url)
            self._traffic = TrafficLabels(policy)
            self._policy = policy
        return self._policy, self._spend, self._redis_health

    async def _health(self, policy: RoutingPolicy, redis_health: RedisTierHealth) -> TierHealth:
        parts = [await redis_health.aread()]
        if "litellm" in policy.config.health.source:
            if time.monotonic() - self._litellm_health_at >= policy.config.health.litellm_refresh_s:
                self._litellm_health = await litellm_tier_health(policy)
                self._litellm_health_at = time.monotonic()
            parts.append(self._litellm_health)
        return merge(parts)

    async def _follow_adapter(self, policy: RoutingPolicy) -> None:
        """Swap in the adapter `maximus route learn` stored (read in the background); a new one brings its own
        calibrated threshold, so the online controller restarts from it."""
        adapter = await self._adapter.latest() if self._adapter is not None else None
        current = policy.adapter
        if (adapter and adapter.id) != (current and current.id):
            policy.adapter = adapter
            target, online = policy.config.sovereignty_target, policy.config.online
            self.sovereignty = ThresholdController(policy.calibrated_threshold, target, online)

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        if call_type not in ROUTED_CALL_TYPES or not isinstance(data, dict):
            return data
        try:
            check_request(data, chat=call_type in CHAT_CALL_TYPES)
        except MalformedRequest as exc:
            raise bad_request(exc) from None
        policy, spend, redis_health = self._state()
        await self._follow_adapter(policy)
        headers = request_headers(data)
        decide = functools.partial(
            policy.decide,
            data,
            headers=headers,
            budget=await self._people.budget(user_api_key_dict, await spend.aread()),
            health=self._people.health(user_api_key_dict, await self._health(policy, redis_health)),
            threshold=self.sovereignty.current,
        )
        large = sum(map(len, all_texts(data))) > policy.config.privacy.offload_scan_chars
        decision = await asyncio.to_thread(decide) if large else decide()
        sovereign = policy.config.tiers[decision.tier].sovereign
        if self._tracker_share is not None:
            self.sovereignty.follow(await self._tracker_share.latest(wait_first_s=0.0))
        self.sovereignty.observe(Outcome(decision.score if decision.scored else None, sovereign))
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata.update(decision.metadata())
        if decision.refused:
            raise OpenAIHTTPException(
                403,
                "This request carries private data and the requested model is not local; "
                "the operator's policy refuses it. Use max-auto or a local model.",
                "permission_error",
                "model",
                "private_data_not_local",
            )
        data["model"] = decision.model
        self._traffic.note(data, decision, user_api_key_dict)  # x-maximus-request-id; its record in the background
        if decision.pinned_local:
            data["disable_fallbacks"] = True
            for key in ("fallbacks", "context_window_fallbacks", "default_fallbacks"):
                data.pop(key, None)
        return data

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> OpenAIHTTPException | None:
        """A tier that did not answer becomes a clean 503/504 (router.tier_errors); other failures stay as they are."""
        if not isinstance(request_data, dict) or isinstance(original_exception, HTTPException):
            return None
        policy = self._state()[0]
        failure = self._describe(request_data, original_exception, policy)
        if failure is None:
            return None
        metadata = request_data.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata[ERROR_META] = failure.code
        log.warning("request failed: %s", failure.message)
        error = openai_error(failure)
        return OpenAIHTTPException(failure.status, error["message"], error["type"], None, error["code"])

    @staticmethod
    def _describe(data: dict[str, Any], exc: BaseException, policy: RoutingPolicy) -> TierFailure | None:
        if isinstance(exc, TierStreamFailure):
            return exc.failure
        return describe(exc, failed_tier(data, exc, policy), policy.config.endpoints)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncIterator[Any]:
        """The stream as it comes; a tier that stops answering mid-stream ends it with the clean error."""
        try:
            async for chunk in response:
                yield chunk
        except Exception as exc:
            failure = self._describe(request_data, exc, self._state()[0]) if isinstance(request_data, dict) else None
            if failure is None:
                raise
            raise TierStreamFailure(failure) from None

    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
    ) -> dict[str, str] | None:
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if not isinstance(metadata, dict) or "maximus_tier" not in metadata:
            return None
        reasons = metadata.get("maximus_route_detail") or metadata.get("maximus_route_reasons") or []
        reason = "; ".join(str(r) for r in reasons)
        score = metadata.get("maximus_route_score")
        return {
            TIER_HEADER: str(metadata["maximus_tier"]),
            REASON_HEADER: _NOT_HEADER_SAFE.sub("?", reason[:300]),
            SCORE_HEADER: f"{score:.4f}" if isinstance(score, (int, float)) else "null",
            **with_request_id(metadata),
        }

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """A local answer may be shadowed (router.traffic_labels): decided here, done in the background."""
        if self._traffic is not None and isinstance(kwargs, dict):
            try:
                self._traffic.answered(kwargs, response_obj)
            except Exception as exc:  # labels never break an answer
                log.warning("shadow judging skipped: %s", type(exc).__name__)


proxy_hook = RoutingHook()
