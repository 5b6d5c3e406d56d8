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


def test_messages_stream(maximus: ClientStack) -> None:
    mark = maximus.mark()
    with client(maximus).messages.stream(
        model="max-auto", max_tokens=256, messages=[{"role": "user", "content": "say hello in four words"}]
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
