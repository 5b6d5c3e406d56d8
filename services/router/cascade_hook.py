"""The cascade in the LiteLLM proxy (router.cascade decides; this module moves the request).

Where it runs, and why there (LiteLLM 1.108.7, docs/reference/litellm.md "Cascade"):
- pre-call (RoutingHook.async_pre_call_hook): a max-auto chat request the policy scored local, not private, not
  forced local by the budget or a down tier, without tools, is "armed": its model becomes
  learning.cascade.local_model (the local chat model through Ollama's OpenAI-compatible /v1: LiteLLM's
  `ollama_chat/` provider drops `logprobs`), it asks for `logprobs`, and its metadata names the strong group an
  escalation goes to (the classifier's kind, as the policy escalates; only when that tier is available).
- non-streaming, the deployment success hook (`async_post_call_success_deployment_hook`): LiteLLM runs it inside
  the local attempt, after the answer and BEFORE that attempt's success event is logged. A low confidence calls
  the strong group (llm_router.acompletion, same litellm_call_id, fallbacks off) right there, so the outcome is
  known when the local attempt is logged: escalated, the local attempt is tagged maximus_internal
  "cascade_draft" (the tracker counts it as an attempt, never as a request) and the strong answer's own success
  event counts the request once, at its tier, with the reason "cascade"; the strong tier failing, the local
  attempt stays the request (reason "fallback") and the client gets the local answer. The strong answer is
  handed to the client by the proxy's success hook (`async_post_call_success_hook`, whose return replaces the
  response): returning it from the deployment hook would have logged the strong answer's tokens as the local
  attempt's.
- streaming, the streaming iterator hook: the first stream_prefix_tokens tokens are held back; their confidence
  decides before anything is sent: escalated, the local stream is closed and the strong stream is sent instead
  (the strong tier failing before its first chunk, the held-back prefix and the rest of the local stream are).
A private request is never armed (the policy pins it local first), so it never escalates.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from router.budget import BudgetStatus
from router.cascade import (
    CASCADE_META,
    DRAFT_TAG,
    Armed,
    CascadeThreshold,
    confidence,
    escalated_reason,
    kept_reason,
    strong_failed_reason,
    token_logprobs,
)
from router.config import CascadeConfig
from router.decision import Decision
from router.health import TierHealth
from router.policy import RoutingPolicy
from router.request import last_user_text

log = logging.getLogger("maximus.router.cascade")

INTERNAL_META = "maximus_internal"  # tracker.litellm_callback: an attempt, never a request of its own
# The client's generation parameters the strong call repeats (never provider settings: api_base, api_key, ...).
FORWARDED = (
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "user",
)
PENDING_MAX = 1024  # outcomes kept for the proxy's success hook (one per request in flight)


@dataclass
class Outcome:
    """What the cascade did to one request, for the proxy's success hook and the response headers."""

    reason: str
    code: str | None  # the bounded reason code it adds ("cascade" when it moved the decision)
    tier: str | None = None  # the tier that answers, when it moved
    model: str | None = None
    response: Any = None  # the strong answer the client gets instead of the local one


def _router() -> Any:
    from litellm.proxy.proxy_server import llm_router

    return llm_router


def _metadata_dicts(request_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metadata dict of this attempt: the request's and the one its logging object reports to callbacks."""
    found: list[dict[str, Any]] = []
    for candidate in (request_data.get("metadata"), _logging_metadata(request_data.get("litellm_logging_obj"))):
        if isinstance(candidate, dict) and all(candidate is not d for d in found):
            found.append(candidate)
    return found


def _logging_metadata(logging_obj: Any) -> dict[str, Any] | None:
    details = getattr(logging_obj, "model_call_details", None)
    params = details.get("litellm_params") if isinstance(details, dict) else None
    metadata = params.get("metadata") if isinstance(params, dict) else None
    return metadata if isinstance(metadata, dict) else None


def apply(metadata: dict[str, Any], outcome: Outcome) -> None:
    """The outcome in a request's metadata: the detail line, its code, and the tier that answers."""
    metadata["maximus_route_detail"] = [*list(metadata.get("maximus_route_detail") or []), outcome.reason]
    codes = list(metadata.get("maximus_route_reasons") or [])
    if outcome.code and outcome.code not in codes:
        metadata["maximus_route_reasons"] = [*codes, outcome.code]
    if outcome.tier:
        metadata["maximus_tier"], metadata["maximus_model"] = outcome.tier, outcome.model
    state = "escalated" if outcome.tier else ("strong_failed" if outcome.code else "kept")
    metadata[CASCADE_META] = {"state": state}


def _strip_logprobs(response: Any) -> None:
    for choice in getattr(response, "choices", None) or ():
        if getattr(choice, "logprobs", None) is not None:
            choice.logprobs = None


@dataclass
class Prepared:
    """A stream whose held-back prefix was judged."""

    held: list[Any]
    iterator: Any
    ended: bool  # the local stream ended within the prefix
    outcome: Outcome | None
    armed: Armed


class Cascade:
    def __init__(self, config: CascadeConfig) -> None:
        self.config = config
        self.threshold = CascadeThreshold(config)
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._streams: OrderedDict[str, Prepared] = OrderedDict()

    # -- pre-call -----------------------------------------------------------------------------------------------
    def arm(
        self,
        policy: RoutingPolicy,
        data: dict[str, Any],
        decision: Decision,
        budget: BudgetStatus,
        health: TierHealth,
        chat: bool,
    ) -> bool:
        """Arm the cascade on this request when it may escalate (see the module's docstring)."""
        if not chat or decision.tier != "local" or not decision.scored or decision.pinned_local or decision.explicit:
            return False
        if data.get("tools") or data.get("functions") or (data.get("n") or 1) != 1:
            return False
        kind = policy._strong_kind(policy.classify(last_user_text(data)))
        if policy._unavailable(kind, budget, health) is not None:
            return False
        armed = Armed(policy._model(kind), kind, bool(data.get("logprobs")), bool(data.get("stream")))
        data["model"] = self.config.local_model
        data["logprobs"] = True
        # At least one alternative: Ollama omits an empty `top_logprobs` (omitempty), and LiteLLM 1.108.7's
        # ChatCompletionTokenLogprob requires the field, so an answer without it fails to parse (a 500).
        data["top_logprobs"] = max(1, int(data.get("top_logprobs") or 0))
        data.setdefault("metadata", {})[CASCADE_META] = armed.as_meta()
        return True

    # -- non-streaming: inside the local attempt ----------------------------------------------------------------
    async def on_local_answer(self, request_data: dict[str, Any], response: Any) -> None:
        armed = Armed.from_meta((request_data.get("metadata") or {}).get(CASCADE_META))
        if armed is None or armed.stream:
            return
        choices = getattr(response, "choices", None) or []
        if not choices or getattr(getattr(choices[0], "message", None), "tool_calls", None):
            return
        logprobs = getattr(choices[0], "logprobs", None)
        values = token_logprobs(getattr(logprobs, "content", None) if logprobs is not None else None)
        outcome = await self._judge(values, armed, lambda: self._strong(request_data, armed, False))
        if outcome is None:
            return
        for metadata in _metadata_dicts(request_data):
            if outcome.response is not None:
                metadata[INTERNAL_META] = DRAFT_TAG
            apply(metadata, outcome)
        self._remember(str(request_data.get("litellm_call_id") or ""), outcome)

    async def _judge(self, values: list[float], armed: Armed, call: Any) -> Outcome | None:
        value = confidence(values, self.config)
        if value is None:
            return None
        threshold, calibrated = self.threshold.current, self.threshold.calibrated
        if not self.threshold.escalates(value):
            return Outcome(kept_reason(value, threshold, len(values)), None)
        try:
            response = await call()
        except Exception as exc:  # the strong tier failed: the client gets the local answer
            log.warning("cascade: %s tier failed (%s); the local answer is kept", armed.strong_tier, type(exc).__name__)
            return Outcome(strong_failed_reason(armed.strong_tier, type(exc).__name__), "fallback")
        reason = escalated_reason(value, threshold, calibrated, armed.strong_tier, len(values))
        return Outcome(reason, "cascade", armed.strong_tier, armed.strong_model, response)

    def _inner_metadata(self, request_data: dict[str, Any], armed: Armed) -> dict[str, Any]:
        source = request_data.get("metadata") or {}
        inner = {k: v for k, v in source.items() if str(k).startswith(("maximus_", "user_api_key"))}
        inner.pop(INTERNAL_META, None)
        inner[CASCADE_META] = {"state": "escalated"}  # not armed: the strong answer is never judged again
        return inner

    async def _strong(self, request_data: dict[str, Any], armed: Armed, stream: bool) -> Any:
        params = {k: request_data[k] for k in FORWARDED if request_data.get(k) is not None}
        metadata = self._inner_metadata(request_data, armed)
        # The strong answer's own events carry the outcome: the tier that answers and the code "cascade".
        metadata["maximus_tier"], metadata["maximus_model"] = armed.strong_tier, armed.strong_model
        codes = list(metadata.get("maximus_route_reasons") or [])
        metadata["maximus_route_reasons"] = codes if "cascade" in codes else [*codes, "cascade"]
        extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
        if armed.client_logprobs:
            extra["logprobs"] = True
        return await _router().acompletion(
            model=armed.strong_model,
            metadata=metadata,
            litellm_call_id=request_data.get("litellm_call_id"),
            disable_fallbacks=True,
            **params,
            **extra,
        )

    def _remember(self, call_id: str, outcome: Outcome) -> None:
        if not call_id:
            return
        self._outcomes[call_id] = outcome
        while len(self._outcomes) > PENDING_MAX:
            self._outcomes.popitem(last=False)

    # -- non-streaming: the proxy's success hook ----------------------------------------------------------------
    def final_response(self, data: dict[str, Any], response: Any) -> Any:
        """The answer the client gets: the strong one when the cascade escalated; log-probabilities only when the
        client asked for them. The request's metadata gets the outcome (the response headers read it)."""
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else None
        armed = Armed.from_meta((metadata or {}).get(CASCADE_META))
        outcome = self._outcomes.pop(str(data.get("litellm_call_id") or ""), None)
        if outcome is not None and metadata is not None and (metadata.get(CASCADE_META) or {}).get("state") == "armed":
            apply(metadata, outcome)
        client_logprobs = armed.client_logprobs if armed is not None else True
        if outcome is not None and outcome.response is not None:
            response = outcome.response
        if armed is not None and not client_logprobs:
            _strip_logprobs(response)
        return response

    # -- streaming ----------------------------------------------------------------------------------------------
    async def prepare_stream(self, response: Any, request_data: dict[str, Any]) -> None:
        """Hold back the local stream's first stream_prefix_tokens tokens and judge them. Called from the response
        headers hook, which the proxy runs before the first chunk (so the headers name the tier that answers), and
        from `stream` when that hook did not run."""
        metadata = request_data.get("metadata") if isinstance(request_data.get("metadata"), dict) else {}
        armed = Armed.from_meta(metadata.get(CASCADE_META))
        call_id = str(request_data.get("litellm_call_id") or "")
        if armed is None or not armed.stream or not call_id or call_id in self._streams:
            return
        held, values, ended = [], [], True
        iterator = response.__aiter__()
        async for chunk in iterator:
            held.append(chunk)
            values += _chunk_logprobs(chunk)
            if len(values) >= self.config.stream_prefix_tokens:
                ended = False
                break
        outcome = await self._judge(values, armed, lambda: self._first_chunk(request_data, armed))
        if outcome is not None:
            apply(metadata, outcome)
            if outcome.response is not None:
                self._tag_stream_draft(response, request_data)
                await _close(iterator)
        self._streams[call_id] = Prepared(held, iterator, ended, outcome, armed)
        while len(self._streams) > PENDING_MAX:
            self._streams.popitem(last=False)

    async def stream(self, response: Any, request_data: dict[str, Any]) -> AsyncIterator[Any]:
        """The local stream after its held-back prefix; escalated, the strong stream instead."""
        await self.prepare_stream(response, request_data)
        prepared = self._streams.pop(str(request_data.get("litellm_call_id") or ""), None)
        if prepared is None:
            async for chunk in response:
                yield chunk
            return
        if prepared.outcome is not None and prepared.outcome.response is not None:
            async for chunk in self._strong_chunks(prepared.outcome.response, prepared.armed):
                yield chunk
            return
        keep = prepared.armed.client_logprobs
        for chunk in prepared.held:
            yield chunk if keep else _without_logprobs(chunk)
        if prepared.ended:
            return
        async for chunk in prepared.iterator:
            yield chunk if keep else _without_logprobs(chunk)

    async def _first_chunk(self, request_data: dict[str, Any], armed: Armed) -> tuple[Any, Any]:
        """The strong stream and its first chunk: a strong tier that fails before answering raises here."""
        stream = await self._strong(request_data, armed, True)
        iterator = stream.__aiter__()
        first = await iterator.__anext__()
        return first, iterator

    async def _strong_chunks(self, started: tuple[Any, Any], armed: Armed) -> AsyncIterator[Any]:
        first, iterator = started
        yield first
        async for chunk in iterator:
            yield chunk

    @staticmethod
    def _tag_stream_draft(response: Any, request_data: dict[str, Any]) -> None:
        for metadata in [*_metadata_dicts(request_data), _logging_metadata(getattr(response, "logging_obj", None))]:
            if isinstance(metadata, dict):
                metadata[INTERNAL_META] = DRAFT_TAG


def _chunk_logprobs(chunk: Any) -> list[float]:
    values: list[float] = []
    for choice in getattr(chunk, "choices", None) or ():
        logprobs = getattr(choice, "logprobs", None)
        content = getattr(logprobs, "content", None) if logprobs is not None else None
        if content is None and isinstance(logprobs, dict):
            content = logprobs.get("content")
        values += token_logprobs(content if isinstance(content, Iterable) else None)
    return values


def _without_logprobs(chunk: Any) -> Any:
    for choice in getattr(chunk, "choices", None) or ():
        if getattr(choice, "logprobs", None) is not None:
            choice.logprobs = None
    return chunk


async def _close(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # closing an abandoned local stream must not fail the escalated one
            log.debug("the abandoned local stream did not close cleanly")
