"""POST /v1/maximus/feedback: a verdict on an answer, by the x-maximus-request-id it carried, under the key that
made the request (a team key on its own requests only; the master key on any). Served by the gateway's edge
(maximus.gateway_edge) after its key check; LiteLLM never sees it.

Body: {"request_id": "mxr-...", "verdict": "insufficient" | "good"}. Answers (JSON):

- 200 {"request_id", "labelled": true, "label": {"source": "feedback", "local_ok", "strong_ok"}}: a label was
  stored (router.labels): local_ok for a local answer, strong_ok for a strong tier's;
- 200 {"request_id", "labelled": false, "reason": "private", "message": "not labelled: private ..."}: the
  privacy guard flagged the request; it is never labelled (its record holds nothing to label);
- 400 a malformed body (OpenAI error naming the field); 404 an unknown or expired id (records are kept
  learning.request_ttl_s); 403 someone else's request; 409 feedback already given for this request;
  405 another method; 503 the stack's Redis does not answer. 401 and the team-key 403s are the edge's own.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from typing import Any

from router.config import cached_config
from router.labels import LabelStore
from router.request_records import NotLabelled, RequestRecords, feedback_label, parse_feedback

PATH = "/v1/maximus/feedback"
ERROR_TYPES = {403: "permission_error", 503: "service_unavailable"}


def _error(status: int, message: str, param: str | None, code: str) -> tuple[int, bytes]:
    kind = ERROR_TYPES.get(status, "invalid_request_error")
    return status, json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode()


def _ok(body: dict[str, Any]) -> tuple[int, bytes]:
    return 200, json.dumps(body).encode()


@lru_cache(maxsize=1)
def _stores() -> tuple[RequestRecords, LabelStore]:
    import redis

    from router.labels import redis_url

    config = cached_config().learning
    timeout = max(config.timeout_s, 0.2) * 4
    client = redis.Redis.from_url(redis_url(), socket_timeout=timeout, socket_connect_timeout=timeout)
    return RequestRecords(client, config), LabelStore(client, config)


def _label(caller_name: str | None, admin: bool, request_id: str, verdict: str) -> tuple[int, bytes]:
    records, labels = _stores()
    record = records.get(request_id)
    if record is None:
        ttl = records.config.request_ttl_s
        message = f"No request {request_id!r} to give feedback on: unknown, or older than {ttl} s (ids expire)."
        return _error(404, message, "request_id", "request_not_found")
    if not admin and record.person != caller_name:
        return _error(403, "This request was made with another key: give feedback with the key that made it.",
                      "request_id", "not_your_request")  # fmt: skip
    try:
        label = feedback_label(record, verdict, request_id)
    except NotLabelled as exc:
        return _ok({"request_id": request_id, "labelled": False, "reason": exc.code, "message": exc.message})
    if not records.claim(request_id, "feedback"):
        return _error(409, "Feedback was already given for this request.", "request_id", "feedback_already_given")
    labels.add(label)
    outcome = {k: label[k] for k in ("source", "local_ok", "strong_ok")}
    return _ok({"request_id": request_id, "labelled": True, "label": outcome})


async def handle(caller_name: str | None, admin: bool, method: str, raw: bytes) -> tuple[int, bytes]:
    """The answer's status and JSON body."""
    if method != "POST":
        return _error(405, f"{PATH} takes POST only.", None, "method_not_allowed")
    try:
        request_id, verdict = parse_feedback(json.loads(raw) if raw.strip() else None)
    except json.JSONDecodeError:
        return _error(400, "The request body must be valid JSON.", "body", "invalid_request")
    except ValueError as exc:
        param, message = exc.args
        return _error(400, message, param, "invalid_request")
    import redis

    try:
        return await asyncio.to_thread(_label, caller_name, admin, request_id, verdict)
    except (redis.RedisError, OSError):
        message = "Feedback is unavailable: the stack's Redis does not answer (`maximus status` says where it is)."
        return _error(503, message, None, "label_store_unavailable")
