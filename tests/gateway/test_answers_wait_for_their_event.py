"""maximus.event_hold and maximus_kernel.receipts in process: a call's event is recorded once its answer went out
whole, never before; a stream flows until the chunk that ends its content; a missing event delays, never loses,
an answer; the edge gives each model call its own call id."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from maximus.event_hold import CALL_ID_HEADER, HeldAnswer, HoldSettings
from maximus.gateway_edge import GatewayEdge, load_settings
from maximus_kernel.receipts import Receipts, receipts

Message = dict[str, Any]
SETTINGS = load_settings().hold  # litellm/gateway.yaml's event_hold, as the gateway runs it


def _start(status: int = 200, stream: bool = False) -> Message:
    kind = b"text/event-stream; charset=utf-8" if stream else b"application/json"
    return {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]}


def _body(data: bytes, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


class Client:
    """What reached the client, in order, and what was recorded meanwhile."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.recorded: list[str] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.got.append(message["body"])

    def hand_over(self, call_id: str) -> None:
        assert receipts.hand_over(call_id, lambda: self.recorded.append(f"recorded after {len(self.got)} parts"))


async def test_a_json_answers_event_is_recorded_once_the_body_went_out() -> None:
    client = Client()
    receipts.expect("json-1")
    send = HeldAnswer(client.send, SETTINGS, "json-1")
    await send(_start())
    answer = asyncio.create_task(send(_body(b'{"choices": []}', more=False)))
    await asyncio.sleep(0.05)
    assert client.got == [] and not answer.done(), "the end left before its event existed"
    client.hand_over("json-1")
    await asyncio.wait_for(answer, 1)
    assert client.got == [b'{"choices": []}'] and client.recorded == ["recorded after 1 parts"]
    receipts.finish("json-1")  # the edge's own finally: nothing recorded twice
    assert client.recorded == ["recorded after 1 parts"] and len(receipts) == 0


async def test_a_stream_flows_until_the_chunk_that_ends_its_content() -> None:
    client = Client()
    receipts.expect("stream-1")
    send = HeldAnswer(client.send, SETTINGS, "stream-1")
    await send(_start(stream=True))
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
    client.hand_over("stream-1")
    await asyncio.wait_for(end, 1)
    assert client.got[1:] == [
        b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
        b'data: {"usage":{}}\n\n',
        b"data: [DONE]\n\n",
        b"",
    ]
    assert client.recorded == ["recorded after 5 parts"]


@pytest.mark.parametrize(
    "chunk",
    [b"event: message_delta\ndata: {}\n\n", b"event: message_stop\ndata: {}\n\n", b"event: response.completed\n"],
    ids=["anthropic-delta", "anthropic-stop", "responses"],
)
async def test_every_api_shapes_stream_end_is_held(chunk: bytes) -> None:
    client = Client()
    send = HeldAnswer(client.send, SETTINGS, "shape")
    await send(_start(stream=True))
    await send(_body(chunk, more=True))
    assert client.got == []


async def test_an_error_answer_is_not_held_and_its_event_is_recorded_after_it() -> None:
    client = Client()
    receipts.expect("failed-1")
    send = HeldAnswer(client.send, SETTINGS, "failed-1")
    client.hand_over("failed-1")  # LiteLLM's failure hook runs before the error answer is built
    await send(_start(status=503))
    await asyncio.wait_for(send(_body(b'{"error": {}}', more=False)), 0.5)
    assert client.got == [b'{"error": {}}'] and client.recorded == []
    receipts.finish("failed-1")
    assert client.recorded == ["recorded after 1 parts"]


async def test_an_event_that_never_comes_delays_the_answer_by_the_bound_only() -> None:
    client = Client()
    receipts.expect("never")
    send = HeldAnswer(client.send, HoldSettings(wait_s=0.2, stream_end=re.compile(b"never")), "never")
    await send(_start())
    started = asyncio.get_running_loop().time()
    await send(_body(b"{}", more=False))
    assert client.got == [b"{}"]
    assert 0.2 <= asyncio.get_running_loop().time() - started < 1.0
    assert not receipts.hand_over("never", lambda: None), "a late event is the callback's to record"


async def test_an_event_nobody_expects_is_recorded_by_its_maker() -> None:
    kept = Receipts()
    assert not kept.hand_over("unknown", lambda: None)
    kept.expect("known")
    assert kept.hand_over("known", lambda: None) and not kept.hand_over("known", lambda: None)


async def test_the_edge_gives_each_model_call_its_own_call_id() -> None:
    seen: list[str] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        seen.append(dict(scope["headers"]).get(CALL_ID_HEADER, b"").decode())
        await send(_start(status=400))
        await send(_body(b"{}", more=False))

    edge = GatewayEdge(app, master_key="sk-edge")
    headers = [(b"authorization", b"Bearer sk-edge"), (CALL_ID_HEADER, b"chosen-by-the-client")]
    scope = {"type": "http", "method": "GET", "path": "/v1/chat/completions", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def ignore(message: Message) -> None:
        return None

    for _ in range(2):
        await edge(scope, receive, ignore)
    assert len(set(seen)) == 2 and "chosen-by-the-client" not in seen
    assert len(receipts) == 0, "a call the edge expected was never finished"
