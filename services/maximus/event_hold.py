"""An answer's event is recorded once the client has the whole answer (maximus_kernel.receipts): an ASGI `send`
wrapper on the model API.

The edge gives each model call its own call id (LiteLLM's x-litellm-call-id, which a client could otherwise set
and so merge its requests in the counts). What completes a 2xx answer waits for that call's event:
- a JSON answer: its body;
- a stream: everything from the first chunk that ends the answer's content (a finish_reason, Anthropic's
  message_delta with its stop_reason, the closing events), where a client may stop reading. Those chunks are
  kept without blocking, so the stream runs to its end, where LiteLLM logs it.
Then they go out, and the event is recorded. The wait is bounded (`wait_s`): an event that does not come in time
(a logger that lags) delays the answer by that much, never loses it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from maximus_kernel.receipts import receipts

log = logging.getLogger("maximus.event_hold")
CALL_ID_HEADER = b"x-litellm-call-id"
Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class HoldSettings:
    wait_s: float = 2.0
    stream_end: re.Pattern[bytes] | None = None  # litellm/gateway.yaml's event_hold.stream_end; None: the end only


def with_call_id(scope: dict[str, Any], call_id: str) -> dict[str, Any]:
    """The request's scope with our call id in place of any the client sent."""
    headers = [(k, v) for k, v in scope.get("headers") or () if k.lower() != CALL_ID_HEADER]
    return {**scope, "headers": [*headers, (CALL_ID_HEADER, call_id.encode())]}


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class HeldAnswer:
    """The `send` of one call; `receipts.expect(call_id)` was called, and `receipts.finish(call_id)` follows the
    app (it records the event of an answer whose end never went out through here)."""

    def __init__(self, send: Send, settings: HoldSettings, call_id: str) -> None:
        self.send = send
        self.settings = settings
        self.call_id = call_id
        self.holding = False
        self.streaming = False
        self.held: list[Message] | None = None  # a list once the stream's end began

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.holding = 200 <= message["status"] < 300
            self.streaming = (_header(message, b"content-type") or "").startswith("text/event-stream")
            await self.send(message)
        elif not self.holding or message["type"] != "http.response.body":
            await self.send(message)
        elif not message.get("more_body", False):
            await self._release(message)
        elif self.held is not None:
            self.held.append(message)
        elif self.streaming and self._ends_stream(message.get("body", b"")):
            self.held = [message]
        else:
            await self.send(message)

    def _ends_stream(self, body: bytes) -> bool:
        return self.settings.stream_end is not None and self.settings.stream_end.search(body) is not None

    async def _release(self, final: Message) -> None:
        if not await receipts.wait(self.call_id, self.settings.wait_s):
            waited = self.settings.wait_s
            log.warning("call %s: its event did not come within %.1f s; answering without it", self.call_id, waited)
        for message in self.held or ():
            await self.send(message)
        self.held = None
        await self.send(final)
        receipts.finish(self.call_id)  # no await since the send: the end is out, and now the event goes to disk
