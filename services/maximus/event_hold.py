"""The answer's last bytes wait for its event (maximus_kernel.receipts): an ASGI `send` wrapper on the model API.

A client that has an answer whole must find it in the tracker's counts even if this gateway process is killed
the next instant, so what completes the answer leaves only once the tracker's callback has journaled the
request's event:
- a JSON answer: its body;
- a stream: everything from the first chunk that ends the answer's content (a finish_reason, Anthropic's
  message_delta with its stop_reason, the closing events). A client may stop reading there. Those chunks are
  kept without blocking, so the stream runs to its end, where LiteLLM logs it, and go out once the event is in.
The wait is bounded (`wait_s`): an event that does not come in time (a logger that lags) delays the answer by
that much, never loses it. Only 2xx answers wait; their call id is LiteLLM's x-litellm-call-id header.
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


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class _HeldAnswer:
    def __init__(self, send: Send, settings: HoldSettings) -> None:
        self.send = send
        self.settings = settings
        self.call_id: str | None = None
        self.streaming = False
        self.held: list[Message] | None = None  # a list once the stream's end began

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.call_id = _header(message, CALL_ID_HEADER) if 200 <= message["status"] < 300 else None
            self.streaming = (_header(message, b"content-type") or "").startswith("text/event-stream")
            await self.send(message)
        elif self.call_id is None or message["type"] != "http.response.body":
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
        if not await receipts.wait(self.call_id or "", self.settings.wait_s):
            waited = self.settings.wait_s
            log.warning("call %s: its event was not journaled within %.1f s; answering anyway", self.call_id, waited)
        for message in self.held or ():
            await self.send(message)
        self.held = None
        await self.send(final)


def holding_send(send: Send, settings: HoldSettings) -> Send:
    return _HeldAnswer(send, settings)
