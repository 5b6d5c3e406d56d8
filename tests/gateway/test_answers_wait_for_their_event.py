"""maximus.event_hold and maximus_kernel.receipts in process: an answer's last bytes leave only once its event is
journaled; a stream flows until the chunk that ends its content; a missing event delays, never loses, an answer."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from maximus.event_hold import HoldSettings, holding_send
from maximus.gateway_edge import load_settings
from maximus_kernel.receipts import Receipts, receipts

Message = dict[str, Any]
SETTINGS = load_settings().hold  # litellm/gateway.yaml's event_hold, as the gateway runs it


def _start(call_id: str, status: int = 200, stream: bool = False) -> Message:
    kind = b"text/event-stream; charset=utf-8" if stream else b"application/json"
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"x-litellm-call-id", call_id.encode()), (b"content-type", kind)],
    }


def _body(data: bytes, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


class Client:
    """What reached the client, in order."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.got.append(message["body"])


async def test_a_json_answer_leaves_when_its_event_is_noted() -> None:
    client = Client()
    send = holding_send(client.send, SETTINGS)
    await send(_start("json-1"))
    answer = asyncio.create_task(send(_body(b'{"choices": []}', more=False)))
    await asyncio.sleep(0.05)
    assert client.got == [] and not answer.done()
    receipts.note("json-1")
    await asyncio.wait_for(answer, 1)
    assert client.got == [b'{"choices": []}']


async def test_a_stream_flows_until_the_chunk_that_ends_its_content() -> None:
    client = Client()
    send = holding_send(client.send, SETTINGS)
    await send(_start("stream-1", stream=True))
    await send(_body(b'data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}\n\n', more=True))
    assert len(client.got) == 1, "a content chunk was held"
    # The finish chunk, the usage chunk and [DONE] are kept without blocking the stream (LiteLLM logs it after).
    await asyncio.wait_for(send(_body(b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n', True)), 1)
    await asyncio.wait_for(send(_body(b'data: {"usage":{}}\n\n', True)), 1)
    await asyncio.wait_for(send(_body(b"data: [DONE]\n\n", True)), 1)
    assert len(client.got) == 1
    end = asyncio.create_task(send(_body(b"", more=False)))
    await asyncio.sleep(0.05)
    assert len(client.got) == 1 and not end.done()
    receipts.note("stream-1")
    await asyncio.wait_for(end, 1)
    assert client.got[1:] == [
        b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
        b'data: {"usage":{}}\n\n',
        b"data: [DONE]\n\n",
        b"",
    ]


@pytest.mark.parametrize(
    "chunk",
    [b"event: message_delta\ndata: {}\n\n", b"event: message_stop\ndata: {}\n\n", b"event: response.completed\n"],
    ids=["anthropic-delta", "anthropic-stop", "responses"],
)
async def test_every_api_shapes_stream_end_is_held(chunk: bytes) -> None:
    client = Client()
    send = holding_send(client.send, SETTINGS)
    await send(_start(f"shape-{chunk[:12]!r}", stream=True))
    await send(_body(chunk, more=True))
    assert client.got == []


async def test_an_error_answer_is_not_held() -> None:
    client = Client()
    send = holding_send(client.send, SETTINGS)
    await send(_start("failed-1", status=503))
    await asyncio.wait_for(send(_body(b'{"error": {}}', more=False)), 0.5)
    assert client.got == [b'{"error": {}}']


async def test_an_event_that_never_comes_delays_the_answer_by_the_bound_only() -> None:
    client = Client()
    send = holding_send(client.send, HoldSettings(wait_s=0.2, stream_end=re.compile(b"never")))
    await send(_start("never-noted"))
    started = asyncio.get_running_loop().time()
    await send(_body(b"{}", more=False))
    assert client.got == [b"{}"]
    assert 0.2 <= asyncio.get_running_loop().time() - started < 1.0


async def test_a_note_before_the_wait_is_kept_and_notes_are_bounded() -> None:
    kept = Receipts(kept=2)
    for call in ("a", "b", "c"):
        kept.note(call)
    assert await kept.wait("c", 0.01) and await kept.wait("b", 0.01)
    assert not await kept.wait("a", 0.01), "the oldest note outlived the bound"
