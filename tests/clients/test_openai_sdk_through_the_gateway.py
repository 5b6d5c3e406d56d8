"""The official `openai` package (pinned in pyproject.toml) against the gateway, as README's "Use it from ..." says:
base_url http://<gateway>/v1, the key as api_key, max-auto for chat and Responses, max-embed for embeddings.

Each test checks the tier that answered (x-maximus-tier), the routing headers, the tracker's count (exactly the
requests the client made, in that tier), and that no answer carries LiteLLM text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import openai
import pytest

from tests.clients.stack import CLIENT_TIMEOUT_S, ClientStack, assert_no_litellm_text

pytestmark = pytest.mark.integration

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ANSWER_SCHEMA = {
    "name": "capital",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
        "required": ["country", "capital"],
        "additionalProperties": False,
    },
}


def client(maximus: ClientStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=maximus.openai_base_url, api_key=maximus.key, max_retries=0, timeout=CLIENT_TIMEOUT_S)


def assert_routing_headers(headers: Mapping[str, str], tier: str = "local") -> None:
    assert headers.get("x-maximus-tier") == tier, dict(headers)
    assert headers.get("x-maximus-route-reason"), "the reason for the tier is given"
    assert "x-maximus-route-score" in headers


def test_tools_round_trip_stays_local_on_a_tools_model(maximus: ClientStack) -> None:
    mark = maximus.mark()
    messages = [{"role": "user", "content": "What is the weather in Lyon?"}]
    raw = client(maximus).chat.completions.with_raw_response.create(
        model="max-auto", messages=messages, tools=[WEATHER]
    )
    assert_routing_headers(raw.headers)
    first = raw.parse()
    calls = first.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]
    assert isinstance(json.loads(calls[0].function.arguments), dict)
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 21 C"},
    ]
    raw2 = client(maximus).chat.completions.with_raw_response.create(
        model="max-auto", messages=messages, tools=[WEATHER]
    )
    assert_routing_headers(raw2.headers)
    final = raw2.parse().choices[0].message
    assert final.content and "sunny, 21 C" in final.content and not final.tool_calls
    assert_no_litellm_text(raw.http_response.text, raw2.http_response.text)
    assert len(maximus.assert_counted(mark)) == 2
    maximus.assert_tools_went_to_a_tools_model(mark)


def test_structured_output_follows_the_json_schema(maximus: ClientStack) -> None:
    mark = maximus.mark()
    raw = client(maximus).chat.completions.with_raw_response.create(
        model="max-auto",
        messages=[{"role": "user", "content": "The capital of France, as JSON."}],
        response_format={"type": "json_schema", "json_schema": ANSWER_SCHEMA},
    )
    assert_routing_headers(raw.headers)
    answer = json.loads(raw.parse().choices[0].message.content)
    assert set(answer) == {"country", "capital"} and all(isinstance(v, str) for v in answer.values())
    assert_no_litellm_text(raw.http_response.text)
    maximus.assert_counted(mark)
    chats = maximus.chats_since(mark)
    assert chats and all(isinstance(c.get("format"), dict) for c in chats), "the schema reached Ollama as `format`"


def test_responses_api_answers_locally(maximus: ClientStack) -> None:
    mark = maximus.mark()
    raw = client(maximus).responses.with_raw_response.create(model="max-auto", input="say hello")
    assert_routing_headers(raw.headers)
    response = raw.parse()
    assert response.output_text.startswith("Local answer from ")
    assert_no_litellm_text(raw.http_response.text)
    maximus.assert_counted(mark)


def test_responses_api_streamed(maximus: ClientStack) -> None:
    mark = maximus.mark()
    stream = client(maximus).responses.create(model="max-auto", input="say hello in four words", stream=True)
    assert_routing_headers(stream.response.headers)
    events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, "the text arrives in several events"
    completed = [e for e in events if e.type == "response.completed"]
    assert len(completed) == 1 and completed[0].response.output_text == "".join(deltas)
    assert completed[0].response.usage is not None and completed[0].response.usage.input_tokens > 0
    assert_no_litellm_text(*(e.model_dump_json() for e in events))
    maximus.assert_counted(mark)


def test_embeddings_stay_local(maximus: ClientStack) -> None:
    mark = maximus.mark()
    texts = ["a private document", "another private document"]
    raw = client(maximus).embeddings.with_raw_response.create(model="max-embed", input=texts)
    assert raw.headers.get("x-maximus-tier") == "local", dict(raw.headers)
    result = raw.parse()
    vectors = [d.embedding for d in result.data]
    assert len(vectors) == 2 and len(vectors[0]) > 0 and vectors[0] != vectors[1]
    assert_no_litellm_text(raw.http_response.text)
    maximus.assert_counted(mark)
    embeds = maximus.embeds_since(mark)
    assert embeds, "the embedding was computed by the local tier"
