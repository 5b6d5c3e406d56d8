"""maximus.gateway_edge in process, on a recording ASGI app: what reaches LiteLLM, and what never does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from maximus.gateway_edge import DEFAULT_CONFIG, GatewayEdge, load_settings

KEY = "sk-" + "edge" * 6


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(
    edge: GatewayEdge, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, query: str = ""
) -> tuple[int, dict]:
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    raw_headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": method, "path": path, "headers": raw_headers, "query_string": query.encode()}
    asyncio.run(edge(scope, receive, send))
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, (json.loads(payload) if status != 200 else {})


@pytest.fixture
def edge() -> tuple[GatewayEdge, Recorder]:
    inner = Recorder()
    return GatewayEdge(inner, load_settings(env={}), master_key=KEY), inner


def test_a_valid_body_reaches_litellm_byte_for_byte(edge: tuple[GatewayEdge, Recorder]) -> None:
    gateway, inner = edge
    body = json.dumps({"model": "max-auto", "messages": [{"role": "user", "content": "é" * 3000}]}).encode()
    status, _ = call(gateway, "POST", "/v1/chat/completions", body, {"authorization": f"Bearer {KEY}"})
    assert status == 200 and inner.bodies == [body]


@pytest.mark.parametrize(
    ("headers", "query", "path"),
    [
        ({"x-api-key": KEY}, "", "/v1/messages"),
        ({"x-goog-api-key": KEY}, "", "/v1beta/models/m:generateContent"),
        ({}, f"key={KEY}", "/v1beta/models/m:generateContent"),
        ({"x-litellm-api-key": f"Bearer {KEY}"}, "", "/v1/models"),
    ],
)
def test_the_key_is_accepted_where_litellm_accepts_it(
    edge: tuple[GatewayEdge, Recorder], headers: dict, query: str, path: str
) -> None:
    assert call(edge[0], "GET", path, headers=headers, query=query)[0] == 200


def test_without_the_key_only_open_paths_and_preflights_pass(edge: tuple[GatewayEdge, Recorder]) -> None:
    gateway, _ = edge
    assert call(gateway, "GET", "/health/liveliness")[0] == 200
    assert call(gateway, "GET", "/metrics/")[0] == 200
    assert call(gateway, "OPTIONS", "/v1/chat/completions", headers={"access-control-request-method": "POST"})[0] == 200
    status, error = call(gateway, "GET", "/openapi.json", headers={"authorization": "Bearer wrong"})
    assert status == 401 and error["error"]["type"] == "authentication_error"
    assert call(gateway, "GET", "/v1beta/models/m:list", query=f"key={KEY}")[0] == 401  # query keys: Google's only


def test_the_body_limit_comes_from_the_environment(tmp_path: Path) -> None:
    inner = Recorder()
    gateway = GatewayEdge(inner, load_settings(DEFAULT_CONFIG, {"MAXIMUS_MAX_BODY_BYTES": "2000"}), master_key=KEY)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "a" * 3000}]}).encode()
    status, error = call(gateway, "POST", "/v1/chat/completions", body, {"authorization": f"Bearer {KEY}"})
    assert status == 413 and error["error"]["param"] == "body"
    assert inner.bodies == []


def test_form_uploads_are_left_to_litellm(edge: tuple[GatewayEdge, Recorder]) -> None:
    gateway, inner = edge
    headers = {"authorization": f"Bearer {KEY}", "content-type": "multipart/form-data; boundary=x"}
    assert call(gateway, "POST", "/v1/audio/transcriptions", b"--x--", headers)[0] == 200
    assert inner.bodies == [b"--x--"]
