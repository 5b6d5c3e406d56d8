"""End to end: the official openai client, through the real LiteLLM proxy, answered by the local tier."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import stack

pytestmark = pytest.mark.integration

EXPECTED_GROUPS = {"max-auto", "max-buddy", "max-planner", "max-genius", "max-opus", "max-vision"}


def client(proxy: stack.LiteLLMProxy, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.openai_base_url, api_key=key or proxy.master_key, max_retries=0, timeout=30)


def test_models_lists_every_group(litellm_proxy: stack.LiteLLMProxy) -> None:
    ids = {model.id for model in client(litellm_proxy).models.list()}
    assert ids >= EXPECTED_GROUPS
    assert not any(name.startswith("max-cloud") for name in ids), "cloud groups need their keys"


@pytest.mark.parametrize("model", ["max-buddy", "max-auto"])
def test_local_answer(litellm_proxy: stack.LiteLLMProxy, ollama_double: stack.HttpDouble, model: str) -> None:
    ollama_double.clear()
    reply = client(litellm_proxy).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello from the test suite"}]
    )
    assert reply.choices[0].message.content == "Local answer from gemma3: I read 5 words."
    assert reply.usage.prompt_tokens == 5
    chats = [r for r in ollama_double.requests() if r["path"] == "/api/chat"]
    assert len(chats) == 1, "exactly one call reached the local tier"


@pytest.mark.parametrize("model", ["max-buddy", "max-auto"])
def test_local_answer_streaming(litellm_proxy: stack.LiteLLMProxy, model: str) -> None:
    stream = client(litellm_proxy).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "count these four words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert len(pieces) > 1, "the answer arrives in several chunks"
    assert "".join(pieces) == "Local answer from gemma3: I read 4 words."
    assert usage is not None and usage.prompt_tokens == 4


def test_reasoning_group_uses_the_reasoning_model(litellm_proxy: stack.LiteLLMProxy) -> None:
    reply = client(litellm_proxy).chat.completions.create(
        model="max-planner", messages=[{"role": "user", "content": "plan my day"}]
    )
    assert reply.choices[0].message.content.startswith("Local answer from llama3.1")


def test_wrong_key_is_401(litellm_proxy: stack.LiteLLMProxy) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(litellm_proxy, key="sk-wrong").chat.completions.create(
            model="max-buddy", messages=[{"role": "user", "content": "hi"}]
        )


def test_liveliness_needs_no_key(litellm_proxy: stack.LiteLLMProxy) -> None:
    assert httpx.get(f"{litellm_proxy.base_url}/health/liveliness", timeout=5).status_code == 200


def test_local_tier_down_is_a_clear_error_not_a_hang(workdir: Path) -> None:
    """With nothing listening where Ollama should be, the client gets an error status, not a hang.

    A hang would end in the client's own timeout (openai.APITimeoutError), which is not an APIStatusError.
    """
    down = {"OLLAMA_API_BASE": stack.closed_port_url()}
    with stack.litellm_proxy(workdir, down) as proxy, pytest.raises(openai.APIStatusError) as failure:
        client(proxy).chat.completions.create(model="max-buddy", messages=[{"role": "user", "content": "hi"}])
    assert failure.value.status_code >= 500
    assert "connect" in str(failure.value).lower() or "ollama" in str(failure.value).lower()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}])
def test_bad_or_missing_key_gets_openai_error_body(litellm_proxy: stack.LiteLLMProxy, headers: dict) -> None:
    response = httpx.post(
        f"{litellm_proxy.openai_base_url}/chat/completions",
        headers=headers,
        timeout=10,
        json={"model": "max-buddy", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert "MAXIMUS_MASTER_KEY" in error["message"]
    assert "sk-wrong" not in response.text, "the rejected key is never echoed"


def test_a_request_the_chat_model_cannot_honour_falls_back_to_the_reasoning_model(
    litellm_proxy: stack.LiteLLMProxy, ollama_double: stack.HttpDouble
) -> None:
    """gemma3 takes no tools (Ollama answers 400): the local chain max-buddy -> max-planner answers instead."""
    ollama_double.clear()
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    raw = client(litellm_proxy).chat.completions.with_raw_response.create(
        model="max-buddy", messages=[{"role": "user", "content": "what time is it"}], tools=[tool]
    )
    calls = raw.parse().choices[0].message.tool_calls or []
    assert [call.function.name for call in calls] == ["now"], "llama3.1 takes tools: it calls the one offered"
    assert raw.headers["x-litellm-model-group"] == "max-planner"
    chats = [json.loads(r["body"])["model"] for r in ollama_double.requests() if r["path"] == "/api/chat"]
    assert chats == ["gemma3", "llama3.1"], "tried the chat model first, then the local fallback; nothing else"
