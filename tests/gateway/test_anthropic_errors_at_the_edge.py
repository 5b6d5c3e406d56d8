"""maximus.gateway_edge on Anthropic's routes, in process: LiteLLM's error answers rewritten in Anthropic's shape
(the hook's clean error when it recorded one, else LiteLLM's message without its extras), streams untouched,
count_tokens answered without calling the app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from maximus.gateway_edge import GatewayEdge, load_settings
from maximus_kernel import error_scope

KEY = "sk-" + "edge" * 6
LITELLM_503 = {
    "type": "error",
    "error": {
        "type": "api_error",
        "message": "litellm.APIConnectionError: Ollama_chatException - Cannot connect to host 127.0.0.1:1",
        "provider_specific_fields": {"x": 1},
        "litellm_call_id": "abc",
    },
}


class FakeLiteLLM:
    """Answers like LiteLLM's /v1/messages: `status` with `body`; `clean` is what our hook would record."""

    def __init__(self, status: int, body: bytes, clean: tuple[int, str, str] | None = None, chunks: int = 1) -> None:
        self.status, self.body, self.clean, self.chunks, self.calls = status, body, clean, chunks, 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.calls += 1
        await receive()
        if self.clean is not None:
            await asyncio.create_task(_record(*self.clean))  # recorded from a task the endpoint started
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"x-litellm-call-id", b"abc")]})
        size = max(1, len(self.body) // self.chunks)
        parts = [self.body[i : i + size] for i in range(0, len(self.body), size)]
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})


async def _record(status: int, message: str, kind: str) -> None:
    error_scope.record(status, message, kind)


def call(app: Any, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    edge = GatewayEdge(app, load_settings(), master_key=KEY)
    messages = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"x-api-key", KEY.encode()), (b"content-type", b"application/json")]
    asyncio.run(
        edge({"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b""}, receive, send)
    )
    start_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], start_headers, b"".join(m.get("body", b"") for m in sent[1:])


MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}


def test_the_hooks_clean_error_replaces_litellms_text() -> None:
    clean = (503, "local tier unavailable: nothing answers at http://127.0.0.1:1: start Ollama", "service_unavailable")
    app = FakeLiteLLM(500, json.dumps(LITELLM_503).encode(), clean, chunks=3)
    status, headers, body = call(app, "/v1/messages", MESSAGE)
    assert status == 503 and json.loads(body) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": clean[1]},
    }
    assert headers["content-length"] == str(len(body)) and headers["x-litellm-call-id"] == "abc"


def test_without_a_clean_error_litellms_extras_and_text_are_dropped() -> None:
    status, _, body = call(FakeLiteLLM(500, json.dumps(LITELLM_503).encode()), "/v1/messages", MESSAGE)
    error = json.loads(body)["error"]
    assert status == 500 and set(error) == {"type", "message"} and "litellm" not in body.decode().lower()
    plain = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}
    status, _, body = call(FakeLiteLLM(400, json.dumps(plain).encode()), "/v1/messages", MESSAGE)
    assert json.loads(body)["error"]["message"] == "max_tokens: too large", "a clean message is kept"


def test_successes_and_streams_pass_untouched() -> None:
    stream = b'event: message_start\ndata: {"type":"message_start"}\n\n' * 3
    status, _, body = call(FakeLiteLLM(200, stream, chunks=3), "/v1/messages", {**MESSAGE, "stream": True})
    assert status == 200 and body == stream


def test_openai_routes_are_not_rewritten() -> None:
    raw = json.dumps({"error": {"message": "litellm.X", "type": None}}).encode()
    status, _, body = call(
        FakeLiteLLM(500, raw), "/v1/chat/completions", {"model": "max-auto", "messages": MESSAGE["messages"]}
    )
    assert status == 500 and body == raw


def test_count_tokens_never_reaches_litellm() -> None:
    app = FakeLiteLLM(200, b"{}")
    status, _, body = call(app, "/v1/messages/count_tokens", {"model": "claude-x", "messages": MESSAGE["messages"]})
    assert status == 200 and json.loads(body)["input_tokens"] > 0 and app.calls == 0
    status, _, body = call(app, "/v1/messages/count_tokens", {"model": "claude-x", "messages": []})
    assert status == 400 and json.loads(body)["type"] == "error" and app.calls == 0


def test_the_edges_own_400_is_anthropic_shaped_on_messages() -> None:
    app = FakeLiteLLM(200, b"{}")
    status, _, body = call(app, "/v1/messages", {**MESSAGE, "max_tokens": -1})
    assert status == 400 and app.calls == 0
    assert json.loads(body)["error"] == {
        "type": "invalid_request_error",
        "message": json.loads(body)["error"]["message"],
    }
    assert "max_tokens" in json.loads(body)["error"]["message"]


def test_count_tokens_grows_with_tools_and_images() -> None:
    from router.token_estimate import estimate_input_tokens

    base = {"messages": [{"role": "user", "content": "hello there"}]}
    tool = {"name": "read_file", "description": "Read a file " * 20, "input_schema": {"type": "object"}}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 100_000}}
    with_image = {"messages": [{"role": "user", "content": [image, {"type": "text", "text": "hello there"}]}]}
    assert estimate_input_tokens({**base, "tools": [tool]}) > estimate_input_tokens(base) + 40
    assert 800 <= estimate_input_tokens(with_image) - estimate_input_tokens(base) < 900, "base64 is not counted as text"
