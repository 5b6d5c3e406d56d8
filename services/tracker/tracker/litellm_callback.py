"""The LiteLLM logging callback: one event per attempt, published to Redis off the request path.

Registered in litellm/config.yaml as `litellm_settings.callbacks: ["tracker.litellm_callback.event_publisher"]`.
The proxy calls only hooks defined on the registered object's own class, so every hook is defined here.

Router metadata keys read from kwargs["litellm_params"]["metadata"] (set by the routing hook in data["metadata"]):
- maximus_tier: str, the tier the router chose;
- maximus_route_reasons: list[str], why;
- maximus_route_score: float 0..1 or null, the router's need score (recorded as the event's route_score);
- maximus_privacy_kinds: list[str], the kinds of private data that pinned the request local (empty if none);
- maximus_pinned_local: bool, private data pinned the request to a sovereign tier (maximus_tier); a request the
  router refused (403, privacy.action: refuse) still names the model asked for in data["model"].
Keys a Maximus service puts in the metadata of its own sub-requests (sent in the request body's `metadata`):
- maximus_internal: str, what the sub-request is for (the vision service's "vision_phrase"): the tracker counts
  it as an attempt of its tier, never as a request (the request is the one the service answers);
- maximus_parent: str, the id of the answer the sub-request is part of (for the record).
The attempt's tier is the deployment's model_info.sovereign_tier (also in that metadata).
The person is LiteLLM's user_api_key_user_id (a team key's name, set by maximus.litellm_auth; LiteLLM strips
user_api_key_* fields a client sends); none for the master key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from maximus_kernel.receipts import receipts
from tracker.events import APIS, FAILURE, FALLBACK, REQUEST_FAILED, SUCCESS, AttemptEvent
from tracker.publisher import EventPublisher
from tracker.settings import load_settings
from tracker.tiers import TIER_KEY, TIERS, load_tier_map

log = logging.getLogger("tracker.callback")

TIER_META = "maximus_tier"
REASONS_META = "maximus_route_reasons"
ERROR_META = "maximus_error"
PRIVACY_META = "maximus_privacy_kinds"
PINNED_META = "maximus_pinned_local"
SCORE_META = "maximus_route_score"
INTERNAL_META = "maximus_internal"
PARENT_META = "maximus_parent"
USER_META = "user_api_key_user_id"
API_META = "maximus_api"
# LiteLLM's call types (standard_logging_object.call_type) by API shape; the router's maximus_api wins.
API_OF_CALL_TYPE = {
    "completion": "chat",
    "acompletion": "chat",
    "text_completion": "completions",
    "atext_completion": "completions",
    "responses": "responses",
    "aresponses": "responses",
    "anthropic_messages": "messages",
    "embedding": "embeddings",
    "aembedding": "embeddings",
}
TAG_MAX_CHARS = 64
# The events that end a request (a failed attempt before a fallback does not): the edge records these.
ANSWERED = frozenset({SUCCESS, REQUEST_FAILED})


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _score(value: Any) -> float | None:
    """The router's need score, if it is one (a number within 0..1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return None
    return float(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return []


def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params") or {}
    return params.get("metadata") or kwargs.get("metadata") or {}


def _api(metadata: Mapping[str, Any], call_type: Any) -> str | None:
    """The request's API shape: the router's word for it, else LiteLLM's call type; None when neither is known."""
    named = metadata.get(API_META)
    if isinstance(named, str) and named:
        return named if named in APIS else "other"
    return API_OF_CALL_TYPE.get(call_type) if isinstance(call_type, str) else None


def _tier(value: Any) -> str | None:
    return value if value in TIERS else None


def _tag(metadata: Mapping[str, Any], key: str) -> str | None:
    """A short string tag from the metadata (bounded: it is client-supplied)."""
    value = metadata.get(key)
    return str(value)[:TAG_MAX_CHARS] if isinstance(value, str | int) and str(value) else None


class TierLookup:
    """Model group -> tier, from the running proxy's router, else from the LiteLLM config file.

    An unknown group reloads the map at most every RELOAD_S seconds (groups can be added at runtime).
    """

    RELOAD_S = 30.0

    def __init__(self) -> None:
        self._groups: dict[str, str] | None = None
        self._loaded_at = 0.0

    def __call__(self, group: str | None) -> str | None:
        if not group:
            return None
        stale = time.monotonic() - self._loaded_at > self.RELOAD_S
        if self._groups is None or (group not in self._groups and stale):
            self._groups, self._loaded_at = self._load(), time.monotonic()
        return self._groups.get(group)

    @staticmethod
    def _load() -> dict[str, str]:
        groups = load_tier_map()
        try:
            from litellm.proxy.proxy_server import llm_router
        except Exception:  # the proxy is not loaded (tests, scripts)
            return groups
        for deployment in getattr(llm_router, "model_list", None) or []:
            tier = _tier((deployment.get("model_info") or {}).get(TIER_KEY))
            if tier and deployment.get("model_name"):
                groups[deployment["model_name"]] = tier
        return groups


def build_attempt_event(kind: str, kwargs: Mapping[str, Any], tier_of: TierLookup) -> AttemptEvent | None:
    """An event from a success or failure callback's kwargs; None when it has no call id."""
    slo = kwargs.get("standard_logging_object") or {}
    metadata = _metadata(kwargs)
    call_id = slo.get("litellm_call_id") or kwargs.get("litellm_call_id")
    if not call_id:
        return None
    group = slo.get("model_group") or metadata.get("model_group") or ""
    start, end = _epoch(slo.get("startTime")), _epoch(slo.get("endTime"))
    tier = _tier((metadata.get("model_info") or {}).get(TIER_KEY)) or tier_of(group)
    original = metadata.get("original_model_group")
    fell_back = bool(metadata.get("attempted_fallbacks")) and original and original != group
    return AttemptEvent(
        kind=kind,
        call_id=str(call_id),
        ts=end or start,
        model_group=str(group),
        tier=tier,
        stream=bool(slo.get("stream")),
        prompt_tokens=int(slo.get("prompt_tokens") or 0),
        completion_tokens=int(slo.get("completion_tokens") or 0),
        response_cost=float(slo.get("response_cost") or 0.0),
        latency_s=max(0.0, end - start) if start and end else 0.0,
        fallback_from_group=str(original) if fell_back else None,
        fallback_from_tier=tier_of(original) if fell_back else None,
        routed_tier=_tier(metadata.get(TIER_META)),
        route_reasons=_strings(metadata.get(REASONS_META)),
        route_score=_score(metadata.get(SCORE_META)),
        privacy_kinds=_strings(metadata.get(PRIVACY_META)),
        error_type=(slo.get("error_information") or {}).get("error_class") if kind == FAILURE else None,
        internal=_tag(metadata, INTERNAL_META),
        parent_id=_tag(metadata, PARENT_META),
        user=_tag(slo.get("metadata") or {}, USER_META) or _tag(metadata, USER_META),
        api=_api(metadata, slo.get("call_type") or kwargs.get("call_type")),
    )


def _request_user(request_data: Mapping[str, Any]) -> str | None:
    """The person from whichever metadata dict the proxy wrote its user_api_key_* fields to for this route."""
    for key in ("metadata", "litellm_metadata"):
        metadata = request_data.get(key)
        if isinstance(metadata, Mapping) and _tag(metadata, USER_META):
            return _tag(metadata, USER_META)
    return None


def build_request_failed_event(
    request_data: Mapping[str, Any], exception: BaseException, tier_of: TierLookup
) -> AttemptEvent | None:
    call_id = request_data.get("litellm_call_id")
    if not call_id:
        return None
    metadata = request_data.get("metadata") or {}
    group = str(metadata.get("model_group") or request_data.get("model") or "")
    tier = _tier((metadata.get("model_info") or {}).get(TIER_KEY))
    if tier is None and metadata.get(PINNED_META):
        # Pinned local (private data): the request belongs to the tier the router chose, also when the router
        # refused it (403) before data["model"], which still names the model asked for, was rewritten.
        tier = _tier(metadata.get(TIER_META))
    tier = tier or tier_of(group)
    received = _epoch(metadata.get("litellm_received_at"))
    now = datetime.now().timestamp()
    return AttemptEvent(
        kind=REQUEST_FAILED,
        call_id=str(call_id),
        ts=now,
        model_group=group,
        tier=tier,
        stream=bool(request_data.get("stream")),
        latency_s=max(0.0, now - received) if received else 0.0,
        routed_tier=_tier(metadata.get(TIER_META)),
        route_reasons=_strings(metadata.get(REASONS_META)),
        route_score=_score(metadata.get(SCORE_META)),
        privacy_kinds=_strings(metadata.get(PRIVACY_META)),
        # The router's clean failure code (local_tier_unreachable, power_tier_timeout, ...) when it gave one.
        error_type=_tag(metadata, ERROR_META) or type(exception).__name__,
        internal=_tag(metadata, INTERNAL_META),
        parent_id=_tag(metadata, PARENT_META),
        user=_request_user(request_data),
        api=_api(metadata, request_data.get("call_type")),
    )


class SovereigntyEventPublisher(CustomLogger):
    def __init__(self, publisher: EventPublisher | None = None, tier_of: TierLookup | None = None) -> None:
        super().__init__()
        if publisher is None:
            settings = load_settings()
            publisher = EventPublisher(
                settings.redis_url,
                settings.stream,
                settings.spool_dir,
                maxlen=settings.stream_maxlen,
                queue_size=settings.queue_size,
            )
        self.publisher = publisher
        self.tier_of = tier_of or TierLookup()

    def _publish(self, event: AttemptEvent | None) -> None:
        if event is None:
            return
        if event.kind in ANSWERED and receipts.hand_over(event.call_id, lambda: self.publisher.publish(event)):
            return  # the gateway's edge records it once the answer's end went out (maximus_kernel.receipts)
        self.publisher.publish(event)

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        try:
            self._publish(build_attempt_event(SUCCESS, kwargs, self.tier_of))
        except Exception:  # tracking must never break a request
            log.exception("could not publish a success event")

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        try:
            self._publish(build_attempt_event(FAILURE, kwargs, self.tier_of))
        except Exception:
            log.exception("could not publish a failure event")

    async def log_success_fallback_event(
        self, original_model_group: str, kwargs: dict, original_exception: Exception
    ) -> None:
        try:
            call_id = kwargs.get("litellm_call_id")
            if call_id:
                self._publish(
                    AttemptEvent(
                        kind=FALLBACK,
                        call_id=str(call_id),
                        model_group=str(kwargs.get("model") or ""),
                        tier=self.tier_of(kwargs.get("model")),
                        fallback_from_group=original_model_group,
                        fallback_from_tier=self.tier_of(original_model_group),
                        error_type=type(original_exception).__name__,
                    )
                )
        except Exception:
            log.exception("could not publish a fallback event")

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> None:
        try:
            self._publish(build_request_failed_event(request_data, original_exception, self.tier_of))
        except Exception:
            log.exception("could not publish a request-failed event")
        return None


event_publisher = SovereigntyEventPublisher()
