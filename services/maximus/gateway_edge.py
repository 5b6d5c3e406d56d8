"""The gateway's edge: an ASGI middleware installed on LiteLLM's app (see maximus.gateway) that answers, before
LiteLLM reads anything, every request it must not see:

- 401 on every route but the open ones (health, metrics) without the master key or a team key (maximus.team_auth;
  LiteLLM itself serves /openapi.json, /redoc and /ui/ without one), in Anthropic's error shape on its routes;
- 403 for a team key outside the model API (key management, spend and admin routes are the master key's);
- 503 for a team key while the key store cannot be read (fails closed; the master key still works);
- 413 for a JSON body over the size limit (read no further than the limit);
- 400 with an OpenAI error naming the field for a body that breaks router.validation's contract (LiteLLM parses
  bodies before any hook runs: a JSON array is its plain-text 500);
- on Anthropic's routes: every refusal and every LiteLLM error in Anthropic's shape, without LiteLLM's text, and
  /v1/messages/count_tokens answered from a local estimate (maximus.anthropic_edge).
- POST /v1/maximus/feedback, answered here (maximus.feedback_route) under the key that made the request.

On the model API, each call gets its own call id, and its event is recorded once the answer went out whole
(maximus.event_hold).

Rules live in router.validation, limits and routes in litellm/gateway.yaml. No framework imports: plain ASGI.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml

from maximus import anthropic_edge, feedback_route, team_auth
from maximus.event_hold import HeldAnswer, HoldSettings, with_call_id
from maximus.stack import REPO_ROOT
from maximus_kernel import error_scope
from maximus_kernel.receipts import receipts
from router.request import MalformedRequest
from router.validation import (
    BodyTooLarge,
    RequestLimits,
    check_chat_completion,
    check_encodable,
    check_model_api_body,
    parse_json_body,
)

CONFIG_ENV = "MAXIMUS_GATEWAY_CONFIG"
BODY_LIMIT_ENV = "MAXIMUS_MAX_BODY_BYTES"
EVENT_WAIT_ENV = "MAXIMUS_EVENT_WAIT_S"
DEFAULT_CONFIG = REPO_ROOT / "litellm" / "gateway.yaml"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class EdgeSettings:
    open_paths: frozenset[str]
    key_headers: tuple[str, ...]
    limits: RequestLimits
    chat_paths: tuple[re.Pattern[str], ...]
    chat_paths_with_model: tuple[re.Pattern[str], ...]
    model_api_paths: tuple[re.Pattern[str], ...]
    team_paths: tuple[re.Pattern[str], ...] = ()
    anthropic_paths: tuple[re.Pattern[str], ...] = ()
    count_tokens_paths: tuple[re.Pattern[str], ...] = ()
    image_tokens: int = 800
    hold: HoldSettings = field(default_factory=HoldSettings)

    def is_model_call(self, path: str) -> bool:
        return any(_matches(p, path) for p in (self.chat_paths, self.chat_paths_with_model, self.model_api_paths))


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> EdgeSettings:
    env = os.environ if env is None else env
    raw = yaml.safe_load((path or Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG)).read_text()) or {}
    limits = dict(raw.get("limits") or {})
    if env.get(BODY_LIMIT_ENV):
        limits["max_body_bytes"] = int(env[BODY_LIMIT_ENV])
    return EdgeSettings(
        open_paths=frozenset(raw.get("open_paths") or ()),
        key_headers=tuple(h.lower() for h in raw.get("key_headers") or ("authorization",)),
        limits=RequestLimits(**limits),
        chat_paths=tuple(re.compile(p) for p in raw.get("chat_paths") or ()),
        chat_paths_with_model=tuple(re.compile(p) for p in raw.get("chat_paths_with_model") or ()),
        model_api_paths=tuple(re.compile(p) for p in raw.get("model_api_paths") or ()),
        team_paths=tuple(re.compile(p) for p in raw.get("team_paths") or ()),
        anthropic_paths=tuple(re.compile(p) for p in raw.get("anthropic_paths") or ()),
        count_tokens_paths=tuple(re.compile(p) for p in raw.get("count_tokens_paths") or ()),
        image_tokens=int(raw.get("count_tokens_image_tokens", 800)),
        hold=_hold_settings(raw.get("event_hold") or {}, env),
    )


def _hold_settings(raw: Mapping[str, Any], env: Mapping[str, str]) -> HoldSettings:
    wait_s = float(env.get(EVENT_WAIT_ENV) or raw.get("wait_s", HoldSettings.wait_s))
    patterns = [p.encode() for p in raw.get("stream_end") or ()]
    return HoldSettings(wait_s, re.compile(b"|".join(patterns))) if patterns else HoldSettings(wait_s)


ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 503: "service_unavailable"}
ANTHROPIC_TYPES = {401: "authentication_error", 403: "permission_error", 503: "overloaded_error"}


def error_message(status: int, message: str, param: str | None, code: str) -> tuple[int, bytes]:
    kind = ERROR_TYPES.get(status, "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return status, json.dumps(body).encode()


def anthropic_error(status: int, message: str) -> tuple[int, bytes]:
    kind = ANTHROPIC_TYPES.get(status, "invalid_request_error")
    return status, json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


KEY_REFUSALS = {
    401: (
        "Missing or invalid API key: send 'Authorization: Bearer <key>' with the MAXIMUS_MASTER_KEY or your team "
        "key (`maximus keys create NAME`).",
        "api_key",
        "invalid_api_key",
    ),
    403: (
        "This team key can use the model API only; key management, spend and admin routes need the master key.",
        None,
        "admin_only",
    ),
}


async def send_error(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}


def _matches(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    return any(p.search(path) for p in patterns)


class GatewayEdge:
    def __init__(self, app: ASGIApp, settings: EdgeSettings | None = None, master_key: str | None = None) -> None:
        self.app = app
        self.settings = settings or load_settings()
        self._master_key = master_key

    @property
    def master_key(self) -> str:
        return self._master_key if self._master_key is not None else os.environ.get("MAXIMUS_MASTER_KEY", "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if not self._is_open(scope, headers):
            refusal = self._key_refusal(scope, headers)
            if refusal is not None:
                await send_error(send, *refusal)
                return
        if scope["path"] == feedback_route.PATH:
            await self._feedback(scope, headers, receive, send)
            return
        anthropic = _matches(self.settings.anthropic_paths, scope["path"])
        if scope["method"] not in BODY_METHODS or not self._is_json(headers):
            await self._serve(scope, receive, send, anthropic)
            return
        raw, refusal = await self._read_body(headers, receive)
        if refusal is None:
            refusal = self._check(scope["path"], raw)
        if refusal is not None and anthropic:
            refusal = anthropic_error(refusal[0], _message_of(refusal[1]))
        if refusal is None and _matches(self.settings.count_tokens_paths, scope["path"]):
            refusal = anthropic_edge.count_tokens_answer(_json_or_none(raw), self.settings.image_tokens)
        if refusal is not None:
            await send_error(send, *refusal)
            return
        await self._serve(scope, _replay(raw, receive), send, anthropic)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, anthropic: bool) -> None:
        """LiteLLM answers; on Anthropic's routes its errors are rewritten in Anthropic's shape (anthropic_edge)."""
        if not self.settings.is_model_call(scope["path"]):
            await self._reshaped(scope, receive, send, anthropic)
            return
        call_id = str(uuid.uuid4())
        scope = with_call_id(scope, call_id)
        if self.settings.hold.wait_s <= 0:
            await self._reshaped(scope, receive, send, anthropic)
            return
        receipts.expect(call_id)
        try:
            await self._reshaped(scope, receive, HeldAnswer(send, self.settings.hold, call_id), anthropic)
        finally:
            receipts.finish(call_id)

    async def _reshaped(self, scope: Scope, receive: Receive, send: Send, anthropic: bool) -> None:
        if not anthropic:
            await self.app(scope, receive, send)
            return
        slot, token = error_scope.open_scope()
        try:
            await self.app(scope, receive, anthropic_edge.reshaping_send(send, slot))
        finally:
            error_scope.close_scope(token)

    async def _feedback(self, scope: Scope, headers: Mapping[str, str], receive: Receive, send: Send) -> None:
        raw, refusal = await self._read_body(headers, receive)
        if refusal is None:
            caller = self._caller(scope, headers)
            refusal = await feedback_route.handle(caller.name, caller.admin, scope["method"], raw)
        await send_error(send, *refusal)

    def _is_open(self, scope: Scope, headers: Mapping[str, str]) -> bool:
        if scope["path"] in self.settings.open_paths:
            return True
        # A browser's CORS preflight never carries credentials; LiteLLM's CORS middleware answers it.
        return scope["method"] == "OPTIONS" and "access-control-request-method" in headers

    def _caller(self, scope: Scope, headers: Mapping[str, str]) -> team_auth.Caller:
        """The first key given that names someone (the master key, a team key), else why none does."""
        given = [headers.get(name, "") for name in self.settings.key_headers]
        given = [value.removeprefix("Bearer ").removeprefix("bearer ").strip() for value in given if value]
        if "generateContent" in scope["path"]:
            given += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key", [])
        callers = [team_auth.identify(value, self.master_key) for value in given]
        return next((c for c in callers if c.name), next((c for c in callers if c.unavailable), team_auth.NOBODY))

    def _key_refusal(self, scope: Scope, headers: Mapping[str, str]) -> tuple[int, bytes] | None:
        caller = self._caller(scope, headers)
        if caller.admin:
            return None
        path = scope["path"]
        if caller.unavailable:
            return self._refusal(path, 503, team_auth.unavailable_message(), None, "key_store_unavailable")
        if caller.name is None:
            return self._refusal(path, 401, *KEY_REFUSALS[401])
        if not _matches(self.settings.team_paths, path):
            return self._refusal(path, 403, *KEY_REFUSALS[403])
        return None

    def _refusal(self, path: str, status: int, message: str, param: str | None, code: str) -> tuple[int, bytes]:
        if _matches(self.settings.anthropic_paths, path):
            return anthropic_error(status, message)
        return error_message(status, message, param, code)

    @staticmethod
    def _is_json(headers: Mapping[str, str]) -> bool:
        # LiteLLM parses a body as JSON unless it is a form or a binary upload.
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        return media in ("", "application/json", "text/plain") or media.endswith("+json")

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> tuple[bytes, tuple[int, bytes] | None]:
        limit = self.settings.limits.max_body_bytes
        too_large = error_message(413, str(BodyTooLarge(limit)), "body", "request_too_large")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return b"", too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), None  # the client left: LiteLLM sees the disconnect as before
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _check(self, path: str, raw: bytes) -> tuple[int, bytes] | None:
        try:
            body = parse_json_body(raw, self.settings.limits) if raw.strip() else {}  # LiteLLM reads empty as {}
            check_encodable(body)
            if _matches(self.settings.chat_paths, path):
                check_chat_completion(body, self.settings.limits)
            elif _matches(self.settings.chat_paths_with_model, path):
                check_chat_completion(body, self.settings.limits, model_in_path=True)
            elif _matches(self.settings.model_api_paths, path):
                check_model_api_body(body, self.settings.limits)
            elif not isinstance(body, dict):
                raise MalformedRequest("The request body must be a JSON object.", "body")
        except BodyTooLarge as exc:
            return error_message(413, exc.message, "body", "request_too_large")
        except MalformedRequest as exc:
            return error_message(400, exc.message, exc.param, "invalid_request")
        return None


def _message_of(body: bytes) -> str:
    """The message of one of our own OpenAI-shaped refusals (error_message)."""
    return json.loads(body)["error"]["message"]


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _replay(raw: bytes, receive: Receive) -> Receive:
    """LiteLLM reads the body we already read; later calls (disconnect detection) go to the client's stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


def install(app: Any) -> None:
    """Adds the edge as the outermost middleware of a Starlette/FastAPI app that has not started yet."""
    app.add_middleware(GatewayEdge)
    team_auth.key_cache()  # the team keys' cache starts filling now, not on the first request
    from maximus import deployment_state  # imports LiteLLM: kept out of this plain-ASGI module's import

    deployment_state.install()  # LiteLLM's Prometheus callback sets the deployment state only (its cost cut)
