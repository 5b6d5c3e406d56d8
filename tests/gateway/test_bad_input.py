"""The real proxy answers every malformed chat request with a 400 naming the field (413 when too large), at once
and before any backend is tried; a valid request still reaches the local tier."""

from __future__ import annotations

import json

import httpx
import pytest

from maximus.gateway_edge import load_settings
from tests.support.stack import HttpDouble, LiteLLMProxy

pytestmark = pytest.mark.integration


def _chats(double: HttpDouble) -> list[dict]:
    return [r for r in double.requests() if r["path"].startswith("/api/")]


VALID = {"model": "max-buddy", "messages": [{"role": "user", "content": "hello there"}]}


def _body(**change: object) -> bytes:
    return json.dumps({**VALID, **change}).encode()


# (raw body, the param the 400 must name)
MALFORMED = {
    "json-array": (b"[1,2,3]", "body"),
    "json-string": (b'"hello"', "body"),
    "not-json": (b"{model: max-buddy", "body"),
    "model-null": (_body(model=None), "model"),
    "model-number": (_body(model=42), "model"),
    "messages-string": (_body(messages="hello"), "messages"),
    "messages-empty": (_body(messages=[]), "messages"),
    "stream-yes": (_body(stream="yes"), "stream"),
    "max-tokens-negative": (_body(max_tokens=-5), "max_tokens"),
    "max-tokens-lots": (_body(max_tokens="lots"), "max_tokens"),
    "max-tokens-absurd": (_body(max_tokens=10**40), "max_tokens"),
    "temperature-hot": (_body(temperature="hot"), "temperature"),
    "temperature-huge": (_body(temperature=1e300), "temperature"),
    "top-p": (_body(top_p=7), "top_p"),
    "n-negative": (_body(n=-1), "n"),
    "tools-object": (_body(tools={"type": "function"}), "tools"),
    "nan": (b'{"model": "max-buddy", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}', "body"),
    "lone-surrogate": (
        b'{"model": "max-buddy", "messages": [{"role": "user", "content": "hi \\ud800 there"}]}',
        "messages[0].content",
    ),
}


@pytest.mark.parametrize(("raw", "param"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_chat_request_is_a_400_naming_the_field(
    litellm_proxy: LiteLLMProxy, ollama_double: HttpDouble, raw: bytes, param: str
) -> None:
    ollama_double.clear()
    headers = {**litellm_proxy.headers(), "content-type": "application/json"}
    response = httpx.post(f"{litellm_proxy.openai_base_url}/chat/completions", content=raw, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert _chats(ollama_double) == []  # refused before any backend was tried


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_is_a_413(litellm_proxy: LiteLLMProxy, chunked: bool) -> None:
    limit = load_settings().limits.max_body_bytes  # litellm/gateway.yaml
    raw = _body(messages=[{"role": "user", "content": "a" * (limit + 1024)}])
    content = (raw[i : i + 65536] for i in range(0, len(raw), 65536)) if chunked else raw
    headers = {**litellm_proxy.headers(), "content-type": "application/json"}
    response = httpx.post(
        f"{litellm_proxy.openai_base_url}/chat/completions", content=content, headers=headers, timeout=30
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["param"] == "body"


def test_a_valid_request_still_reaches_the_local_tier(litellm_proxy: LiteLLMProxy, ollama_double: HttpDouble) -> None:
    ollama_double.clear()
    response = httpx.post(
        f"{litellm_proxy.openai_base_url}/chat/completions", json=VALID, headers=litellm_proxy.headers(), timeout=60
    )
    assert response.status_code == 200, response.text
    assert len(_chats(ollama_double)) == 1
