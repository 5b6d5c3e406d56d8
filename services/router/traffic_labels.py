"""Labels from the gateway's own traffic, as the routing hook (router.litellm_hook) sees it. None ever comes from a
private request (the privacy guard flagged it: pinned local or refused).

- Every routed request gets a request id (router.request_records.new_request_id), sent back as
  x-maximus-request-id; what it was decided as is recorded in the background (RequestRecords), for feedback
  (maximus.feedback_route) and re-asks.
- Re-asks: a non-private local decision is remembered by person and prompt hash; the same person's same prompt
  decided for a strong tier within reask_window_s labels the earlier answer insufficient ("reask").
- Shadow judging (router.shadow_judge): a share of the non-private local answers is asked again of the strong
  tier and judged pairwise by it, in the background; the verdict is a "judge" label.

Nothing here is in a request's path: the hook only reads its metadata and starts tasks (Redis calls run on a
worker thread, each with a short socket timeout). The shadow and judge calls go through LiteLLM's router (the
strong tier's deployments, no fallbacks), tagged maximus_internal and maximus_parent for the tracker."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from maximus_kernel.team_keys import ADMIN_NAME
from router.budget import BudgetStatus, redis_url_from_env
from router.decision import Decision
from router.labels import LabelStore, label_vector
from router.people import person_of
from router.policy import RoutingPolicy
from router.request import last_user_text, messages_of
from router.request_records import Record, RequestRecords, label_of, new_request_id, prompt_hash
from router.shadow_judge import ShadowGate, judge_messages, parse_verdict, verdict_outcome

log = logging.getLogger("maximus.router.traffic")

REQUEST_ID_META = "maximus_request_id"
INTERNAL_META = "maximus_internal"  # the tracker's tag of a Maximus service's own sub-request
PARENT_META = "maximus_parent"
MAX_TASKS = 256  # background label tasks at once; past it new ones are dropped (labels are best effort)
REDIS_THREADS = 2  # their own threads: a Redis that times out never starves the event loop's default pool


def is_private(decision: Decision) -> bool:
    return decision.pinned_local or decision.refused or bool(decision.privacy_detectors)


def _turns(data: Mapping[str, Any]) -> int:
    return max(1, sum(1 for m in messages_of(dict(data)) if m.get("role") == "user"))


def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params") or {}
    return params.get("metadata") or kwargs.get("metadata") or {}


def answer_text(response: Any) -> str:
    """The first choice's text of a chat completion (a streamed one arrives assembled)."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


class TrafficLabels:
    def __init__(self, policy: RoutingPolicy) -> None:
        import redis

        self.policy = policy
        self.config = policy.config.learning
        timeout = max(self.config.timeout_s, 0.2)
        url = redis_url_from_env(policy.config.budget.redis_url_envs)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.records = RequestRecords(self.client, self.config)
        self.labels = LabelStore(self.client, self.config)
        self.gate = ShadowGate(self.client, self.config)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool = ThreadPoolExecutor(max_workers=REDIS_THREADS, thread_name_prefix="maximus-labels")
        self._failing = False  # one warning per Redis outage, not one per request

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(work, *args))

    def _warn(self, what: str, exc: BaseException) -> None:
        if not self._failing:
            log.warning("%s: %s (labels paused until it works again)", what, type(exc).__name__)
        self._failing = True

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_TASKS:
            work.close()
            return
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Every background task done (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- at the decision -------------------------------------------------------------------------------------------

    def note(self, data: dict[str, Any], metadata: dict[str, Any], decision: Decision, identity: Any) -> str:
        """The request's id (put in the metadata dict that holds the decision, which differs per API shape); its
        record and re-ask are written in the background."""
        request_id = new_request_id()
        metadata[REQUEST_ID_META] = request_id
        person = person_of(identity)[0] or ADMIN_NAME
        tier = self.policy.config.tiers[decision.tier]
        text = "" if is_private(decision) else last_user_text(data)
        self._spawn(self._record(request_id, person, decision.tier, tier.sovereign, is_private(decision), text, data))
        return request_id

    async def _record(
        self, request_id: str, person: str, tier: str, local: bool, private: bool, text: str, data: dict[str, Any]
    ) -> None:
        try:
            await self._run(self._record_now, request_id, person, tier, local, private, text, _turns(data))
            self._failing = False
        except Exception as exc:  # labels are best effort: never a request's failure, never its text in a log
            self._warn("request record not written", exc)

    def _record_now(
        self, request_id: str, person: str, tier: str, local: bool, private: bool, text: str, turns: int
    ) -> None:
        """The record last: once it can be read, the re-ask it made is done too (what the tests wait on)."""
        labelled = not private and bool(text.strip())
        x = label_vector(text, turns) if labelled else None
        digest = prompt_hash(text) if labelled else None
        if digest is not None and not local:
            self._reask(person, digest)
        if digest is not None and local:
            self.records.remember_local(person, digest, request_id)
        self.records.put(request_id, Record(person, tier, local, private, x, turns, time.time()))

    def _reask(self, person: str, digest: str) -> None:
        earlier_id = self.records.take_reask(person, digest)
        earlier = self.records.get(earlier_id) if earlier_id else None
        if earlier is None or not earlier.local or earlier.private or earlier.person != person:
            return
        if self.records.claim(earlier_id, "reask"):
            self.labels.add(label_of(earlier, False, None, "reask", earlier_id))

    # -- after a local answer ----------------------------------------------------------------------------------------

    def answered(self, kwargs: Mapping[str, Any], response: Any) -> None:
        """A success event: a non-private local answer may be shadowed (the gate draws here, no Redis)."""
        metadata = _metadata(kwargs)
        request_id = metadata.get(REQUEST_ID_META)
        if metadata.get(INTERNAL_META) or not isinstance(request_id, str):
            return
        answered_tier = (metadata.get("model_info") or {}).get("sovereign_tier")
        if answered_tier != "local" or metadata.get("maximus_tier") != "local":
            return
        private = bool(metadata.get("maximus_pinned_local") or metadata.get("maximus_privacy_kinds"))
        messages = kwargs.get("messages")
        budget = BudgetStatus(str(metadata.get("maximus_budget_state") or "unknown"))
        if not isinstance(messages, list) or not self.gate.wanted(private, budget):
            return
        local_answer = answer_text(response)
        if local_answer and not self.policy.guard.scan({"messages": messages}).hit:  # checked twice: never a leak
            self._spawn(self._shadow(request_id, messages, local_answer))

    async def _shadow(self, request_id: str, messages: list[Any], local_answer: str) -> None:
        try:
            if not await self._run(self.gate.take_daily):
                return
            strong = answer_text(await self._ask(messages, "shadow", request_id))
            question = last_user_text({"messages": messages})
            if not strong or not question:
                return
            judged = answer_text(await self._ask(judge_messages(question, local_answer, strong), "judge", request_id))
            verdict = parse_verdict(judged)
            if verdict is not None:
                await self._run(self._judged, request_id, *verdict_outcome(verdict))
        except Exception as exc:
            self._warn("shadow judging of a local answer failed", exc)

    async def _ask(self, messages: list[Any], purpose: str, request_id: str) -> Any:
        from litellm.proxy.proxy_server import llm_router

        group = self.policy.config.tiers[self.config.shadow_tier].model
        metadata = {INTERNAL_META: purpose, PARENT_META: request_id}
        return await llm_router.acompletion(
            model=group, messages=messages, metadata=metadata, disable_fallbacks=True, num_retries=0
        )

    def _judged(self, request_id: str, local_ok: bool, strong_ok: bool) -> None:
        record = self.records.get(request_id)
        if record is None or record.private or not record.local:
            return
        if self.records.claim(request_id, "judge"):
            self.labels.add(label_of(record, local_ok, strong_ok, "judge", request_id))


def with_request_id(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The answer's x-maximus-request-id header, when the hook gave the request one."""
    request_id = metadata.get(REQUEST_ID_META)
    return {"x-maximus-request-id": request_id} if isinstance(request_id, str) else {}
