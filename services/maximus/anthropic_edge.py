"""The edge's part for Anthropic's routes (/v1/messages, /v1/messages/count_tokens): plain ASGI, no framework.

- Errors in Anthropic's shape, `{"type": "error", "error": {"type": ..., "message": ...}}`, with no LiteLLM text:
  the routing hook's clean error when it made one (maximus_kernel.error_scope: LiteLLM's /v1/messages endpoint
  drops or wraps it), else LiteLLM's message without its extras (provider_specific_fields, call ids) and, when it
  names LiteLLM's internals or gives its advice, our own sentence for the status instead.
- count_tokens answered here, from a local estimate (router.token_estimate): the prompt is never sent anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from maximus_kernel.error_scope import ErrorSlot
from router.token_estimate import estimate_input_tokens

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]

# https://docs.anthropic.com/en/api/errors
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}
# What a message from LiteLLM's internals looks like: its name, its exception classes, its docs, its advice.
_LITELLM_TEXT = re.compile(r"litellm|Exception|Traceback|docs\.|https?://|`/v1/models`|fallback", re.IGNORECASE)
_INVALID_MODEL = re.compile(r"Invalid model name passed in model=([^\s.]{1,100})")
GENERIC = {
    400: "The request could not be served as sent.",
    404: "Not found.",
    429: "Too many requests: try again shortly.",
}


def anthropic_error_body(status: int, message: str) -> bytes:
    kind = ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def _clean_message(status: int, raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message.strip():
        return GENERIC.get(status, "The gateway could not answer this request.")
    invalid = _INVALID_MODEL.search(message)
    if invalid:
        return f"Model '{invalid.group(1)}' is not served here: use max-auto or a model GET /v1/models lists."
    if _LITELLM_TEXT.search(message):
        return GENERIC.get(status, "The gateway could not answer this request.")
    return message


def reshaping_send(send: Send, slot: ErrorSlot) -> Send:
    """`send` with every error answer rewritten in Anthropic's shape (successes and streams pass untouched)."""
    state: dict[str, Any] = {"start": None, "chunks": []}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            if message.get("status", 200) < 400:
                await send(message)
                return
            state["start"] = message
            return
        if message["type"] != "http.response.body" or state["start"] is None:
            await send(message)
            return
        state["chunks"].append(message.get("body", b""))
        if message.get("more_body", False):
            return
        await _send_reshaped(send, state["start"], b"".join(state["chunks"]), slot)

    return wrapped


async def _send_reshaped(send: Send, start: Message, raw: bytes, slot: ErrorSlot) -> None:
    clean = slot.error
    status = clean.status if clean is not None else int(start.get("status", 500))
    message = clean.message if clean is not None else _clean_message(status, raw)
    body = anthropic_error_body(status, message)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def count_tokens_answer(body: Any, image_tokens: int) -> tuple[int, bytes]:
    """count_tokens' answer: 200 `{"input_tokens": n}`, or a 400 in Anthropic's shape."""
    if not isinstance(body, dict):
        return 400, anthropic_error_body(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, anthropic_error_body(400, "'model' must be a non-empty string.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return 400, anthropic_error_body(400, "'messages' must be a non-empty array of message objects.")
    return 200, json.dumps({"input_tokens": estimate_input_tokens(body, image_tokens)}).encode()
