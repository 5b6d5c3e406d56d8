"""The official `anthropic` package (pinned in pyproject.toml) against the gateway's /v1/messages: base_url the
gateway's root (the SDK adds /v1/messages), the key as api_key (sent as x-api-key), model max-auto.

A tools round trip (tool_use, then tool_result, then the final text) and `messages.stream`; each checks the tier
(x-maximus-tier), the routing headers, the model echo, the tracker's count and that no answer carries LiteLLM text.
"""

from __future__ import annotations

import anthropic
import pytest

from tests.clients.stack import CLIENT_TIMEOUT_S, ClientStack, assert_no_litellm_text
from tests.clients.test_openai_sdk_through_the_gateway import assert_routing_headers

pytestmark = pytest.mark.integration

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(maximus: ClientStack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=maximus.base_url, api_key=maximus.key, max_retries=0, timeout=CLIENT_TIMEOUT_S)


def test_tools_round_trip_stays_local_on_a_tools_model(maximus: ClientStack) -> None:
    mark = maximus.mark()
    messages: list[dict] = [{"role": "user", "content": "What is the weather in Lyon?"}]
    raw = client(maximus).messages.with_raw_response.create(
        model="max-auto", max_tokens=256, messages=messages, tools=[WEATHER]
    )
    assert_routing_headers(raw.headers)
    first = raw.parse()
    assert first.model == "max-auto", "the answer names the model the client asked for"
    assert first.stop_reason == "tool_use"
    uses = [block for block in first.content if block.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather"] and isinstance(uses[0].input, dict)
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny, 21 C"}]},
    ]
    raw2 = client(maximus).messages.with_raw_response.create(
        model="max-auto", max_tokens=256, messages=messages, tools=[WEATHER]
    )
    assert_routing_headers(raw2.headers)
    final = raw2.parse()
    assert final.stop_reason == "end_turn"
    text = "".join(block.text for block in final.content if block.type == "text")
    assert "sunny, 21 C" in text
    assert_no_litellm_text(raw.http_response.text, raw2.http_response.text)
    assert len(maximus.assert_counted(mark)) == 2
    maximus.assert_tools_went_to_a_tools_model(mark)


# 32000: what Claude Code 2.1.332 asks on every request; an output limit, not a reservation of the local window.
@pytest.mark.parametrize("max_tokens", [256, 32000])
def test_messages_stream(maximus: ClientStack, max_tokens: int) -> None:
    mark = maximus.mark()
    with client(maximus).messages.stream(
        model="max-auto", max_tokens=max_tokens, messages=[{"role": "user", "content": "say hello in four words"}]
    ) as stream:
        assert_routing_headers(stream.response.headers)
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1, "the text arrives in several deltas"
    assert "".join(pieces).startswith("Local answer from ")
    assert final.model == "max-auto"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0, final.usage
    assert_no_litellm_text(final.model_dump_json())
    maximus.assert_counted(mark)


def test_count_tokens_is_answered_without_a_model(maximus: ClientStack) -> None:
    """Claude Code's /v1/messages/count_tokens: answered by the gateway, not a model request (nothing counted)."""
    mark = maximus.mark()
    raw = client(maximus).messages.with_raw_response.count_tokens(
        model="max-auto", messages=[{"role": "user", "content": "how many tokens is this"}]
    )
    assert raw.parse().input_tokens > 0
    assert_no_litellm_text(raw.http_response.text)
    assert maximus.model_requests_since(mark) == [] and maximus.counted_since(mark) == ({}, 0)
    assert maximus.chats_since(mark) == [], "no model was asked"


def test_a_thinking_request_is_answered_by_a_local_model(maximus: ClientStack) -> None:
    """Claude Code sends `thinking` on every request (2.1.332: {"type": "adaptive"}); a local model without
    Ollama's `thinking` capability must still answer it, as Anthropic's API answers a model that cannot think."""
    mark = maximus.mark()
    raw = client(maximus).messages.with_raw_response.create(
        model="max-auto",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "say hello"}],
    )
    assert_routing_headers(raw.headers)
    answer = raw.parse()
    assert "".join(b.text for b in answer.content if b.type == "text").startswith("Local answer from ")
    assert_no_litellm_text(raw.http_response.text)
    maximus.assert_counted(mark)
