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
- embeddings (call type aembedding): router.embeddings decides, router.litellm_embeddings rewrites the request,
  encodes a base64 answer and cleans an Ollama error; the headers and the tracker's event are the chat ones.
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

from maximus_kernel import error_scope
from router import litellm_embeddings, litellm_shapes, thinking_fit
from router.adapter import AdapterReader
from router.budget import SpendReader, redis_url_from_env
from router.capabilities import CapabilityReader, LocalModels
from router.cascade_hook import Cascade
from router.embeddings import EMBEDDING_CALL_TYPES, EmbeddingRefusal
from router.health import RedisTierHealth, TierHealth, merge
from router.people import PersonLimits
from router.policy import RoutingPolicy, default_policy
from router.redis_reads import BackgroundRedisRead
from router.request import MalformedRequest, all_texts, check_request
from router.request_view import view_of
from router.sovereignty import Outcome, ThresholdController, tracker_share_reader
from router.tier_errors import TierFailure, describe, last_fallback, openai_error
from router.traffic_labels import TrafficLabels, with_request_id

log = logging.getLogger("maximus.router")

ROUTED_CALL_TYPES = frozenset(
    {"completion", "acompletion", "text_completion", "atext_completion", "responses", "aresponses"}
    | {"anthropic_messages", "aanthropic_messages"}  # /v1/messages (LiteLLM's route_type: CallTypes)
)
# these need a non-empty `messages` array
CHAT_CALL_TYPES = frozenset({"completion", "acompletion", "anthropic_messages", "aanthropic_messages"})
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
        error_scope.record(status_code, message, type)  # for the edge: Anthropic's shape on /v1/messages


def bad_request(exc: MalformedRequest) -> OpenAIHTTPException:
    return OpenAIHTTPException(400, exc.message, "invalid_request_error", exc.param, "invalid_request")


def refused(exc: EmbeddingRefusal) -> OpenAIHTTPException:
    return OpenAIHTTPException(exc.status, exc.message, exc.type, exc.param, exc.code)


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
    infos = [m["model_info"] for m in litellm_shapes.buckets(data) if isinstance(m.get("model_info"), dict)]
    tier = infos[0].get("sovereign_tier") if infos else None
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
        self._capabilities: CapabilityReader | None = None
        self._cascade: Cascade | None = None  # router.cascade_hook, when learning.cascade.enabled
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
            self._capabilities = litellm_shapes.capability_reader(policy)
            self._cascade = Cascade(config.learning.cascade) if config.learning.cascade.enabled else None
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

    async def _route_embedding(self, user_api_key_dict: Any, data: dict) -> dict:
        """/v1/embeddings (router.embeddings): local unless the client names a cloud embedding model."""
        policy, spend, _ = self._state()
        budget = await self._people.budget(user_api_key_dict, await spend.aread())
        try:
            return await litellm_embeddings.route(data, policy, request_headers(data), budget)
        except MalformedRequest as exc:
            raise bad_request(exc) from None
        except EmbeddingRefusal as exc:
            raise refused(exc) from None

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        if call_type in EMBEDDING_CALL_TYPES and isinstance(data, dict):
            return await self._route_embedding(user_api_key_dict, data)
        if call_type not in ROUTED_CALL_TYPES or not isinstance(data, dict):
            return data
        try:
            check_request(data, chat=call_type in CHAT_CALL_TYPES)
        except MalformedRequest as exc:
            raise bad_request(exc) from None
        policy, spend, redis_health = self._state()
        await self._follow_adapter(policy)
        headers = request_headers(data)
        view = view_of(data, call_type)
        local = self._capabilities
        snapshot = await local.latest(policy.config.shapes.first_read_wait_s) if local is not None else None
        budget = await self._people.budget(user_api_key_dict, await spend.aread())
        health = self._people.health(user_api_key_dict, await self._health(policy, redis_health))
        decide = functools.partial(
            policy.decide,
            data,
            view=view,
            local=snapshot,
            headers=headers,
            budget=budget,
            health=health,
            threshold=self.sovereignty.current,
        )
        large = sum(map(len, all_texts(data))) > policy.config.privacy.offload_scan_chars
        decision = await asyncio.to_thread(decide) if large else decide()
        thinking_fit.fit(data, decision, snapshot)
        sovereign = policy.config.tiers[decision.tier].sovereign
        if self._tracker_share is not None:
            self.sovereignty.follow(await self._tracker_share.latest(wait_first_s=0.0))
        self.sovereignty.observe(Outcome(decision.score if decision.scored else None, sovereign))
        metadata = litellm_shapes.decision_bucket(data, view.shape)
        metadata.update(decision.metadata())
        metadata[litellm_shapes.SHAPE_META] = view.shape
        if policy.is_alias(view):
            metadata[litellm_shapes.ALIAS_META] = view.model
        if decision.unservable:
            raise OpenAIHTTPException(400, decision.unservable, "invalid_request_error", "tools", "capability_missing")
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
        self._capable_fallbacks(data, decision, view, snapshot, policy)
        self._traffic.note(data, metadata, decision, user_api_key_dict)  # x-maximus-request-id; record in background
        if decision.pinned_local:
            data["disable_fallbacks"] = True
            for key in ("fallbacks", "context_window_fallbacks", "default_fallbacks"):
                data.pop(key, None)
        if self._cascade is not None:
            self._cascade.arm(policy, data, decision, budget, health, call_type in CHAT_CALL_TYPES)
        return data

    @staticmethod
    def _capable_fallbacks(
        data: dict[str, Any], decision: Any, view: Any, snapshot: LocalModels | None, policy: RoutingPolicy
    ) -> None:
        """A non-local decision for a request with tools or images falls back to a local group that serves them."""
        if snapshot is None or decision.pinned_local or decision.tier in ("local", "vision") or "fallbacks" in data:
            return
        groups = tuple(dict.fromkeys(policy.config.tiers["local"].models.values()))
        capable = snapshot.first_serving(groups, view.needs)
        if capable is not None and view.needs - {"completion"}:
            fallbacks = litellm_shapes.capable_fallbacks(decision.model, groups, capable)
            if fallbacks is not None:
                data["fallbacks"] = fallbacks

    async def async_post_call_success_deployment_hook(self, request_data: dict, response: Any, call_type: Any) -> None:
        """Inside the local attempt, before it is logged: the cascade judges its answer (router.cascade_hook)."""
        if self._cascade is not None and isinstance(request_data, dict):
            await self._cascade.on_local_answer(request_data, response)
        return None

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
            embedding_error = litellm_embeddings.failure(request_data, original_exception, policy)
            return None if embedding_error is None else refused(embedding_error)
        metadata = litellm_shapes.routed_metadata(request_data) or request_data.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata[ERROR_META] = failure.code
        log.warning("request failed: %s", failure.message)
        if isinstance(original_exception, TierStreamFailure) and litellm_shapes.streams_own_error_event(request_data):
            return None  # an exception returned here would be re-raised mid-stream: the connection just drops
        error = openai_error(failure)
        return OpenAIHTTPException(failure.status, error["message"], error["type"], None, error["code"])

    @staticmethod
    def _describe(data: dict[str, Any], exc: BaseException, policy: RoutingPolicy) -> TierFailure | None:
        if isinstance(exc, TierStreamFailure):
            return exc.failure
        return describe(exc, failed_tier(data, exc, policy), policy.config.endpoints)

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        """The answer the client gets: an embedding in its encoding_format, checked (router.litellm_embeddings);
        the strong answer when the cascade escalated (router.cascade_hook)."""
        if not isinstance(data, dict):
            return None
        try:
            finished = litellm_embeddings.finish(data, response)
        except EmbeddingRefusal as exc:
            raise refused(exc) from None
        if finished is not None or self._cascade is None:
            return finished
        return self._cascade.final_response(data, response)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncIterator[Any]:
        """The stream as it comes (held back by the cascade when it is armed); a tier that stops answering
        mid-stream ends it with the clean error."""
        if self._cascade is not None and isinstance(request_data, dict):
            response = self._cascade.stream(response, request_data)
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
        metadata = litellm_shapes.routed_metadata(data)
        if metadata is None:
            return None
        if self._cascade is not None:  # a held-back stream is judged before its first chunk and these headers
            await self._cascade.prepare_stream(response, data)
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
