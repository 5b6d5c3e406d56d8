"""The Ollama double answers as Ollama 0.12.6 documents (docs/reference/ollama.md): capabilities per model,
refusals with Ollama's texts, tool calls with object arguments (streamed and not), `format`, /api/embed, thinking."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from tests.doubles.ollama import OllamaDouble

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
USER = [{"role": "user", "content": "what is the weather in tokyo?"}]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(OllamaDouble(["gemma3", "llama3.1", "embeddinggemma", "qwen3"]).create_app())


def _lines(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemma3", ["completion", "vision"]),
        ("llama3.1", ["completion", "tools"]),
        ("embeddinggemma", ["embedding"]),
        ("qwen3", ["completion", "tools", "thinking"]),
    ],
)
def test_show_reports_each_models_capabilities(client: TestClient, model: str, expected: list[str]) -> None:
    assert client.post("/api/show", json={"model": model}).json()["capabilities"] == expected


def test_tools_to_a_model_without_tools_is_ollamas_400(client: TestClient) -> None:
    response = client.post("/api/chat", json={"model": "gemma3", "messages": USER, "tools": [WEATHER]})
    assert response.status_code == 400
    assert response.json() == {"error": "registry.ollama.ai/library/gemma3:latest does not support tools"}


def test_chat_to_an_embedding_model_is_refused(client: TestClient) -> None:
    response = client.post("/api/chat", json={"model": "embeddinggemma", "messages": USER, "stream": False})
    assert response.status_code == 400
    assert response.json() == {"error": '"embeddinggemma" does not support chat'}


def test_tool_call_arguments_are_an_object_that_fits_the_schema(client: TestClient) -> None:
    body = {"model": "llama3.1", "messages": USER, "tools": [WEATHER], "stream": False}
    message = client.post("/api/chat", json=body).json()["message"]
    call = message["tool_calls"][0]["function"]
    assert call["name"] == "get_weather" and message["content"] == ""
    jsonschema.validate(call["arguments"], WEATHER["function"]["parameters"])


def test_streamed_tool_call_arrives_in_one_chunk_before_the_final_one(client: TestClient) -> None:
    body = {"model": "llama3.1", "messages": USER, "tools": [WEATHER]}
    chunks = _lines(client.post("/api/chat", json=body))
    calls = [c for c in chunks if c["message"].get("tool_calls")]
    assert len(calls) == 1 and not calls[0]["done"] and chunks[-1]["done"]
    assert isinstance(calls[0]["message"]["tool_calls"][0]["function"]["arguments"], dict)


def test_after_a_tool_result_the_model_answers_with_text(client: TestClient) -> None:
    messages = [
        *USER,
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {}}}]},
        {"role": "tool", "content": "sunny, 21 C", "tool_name": "get_weather"},
    ]
    body = {"model": "llama3.1", "messages": messages, "tools": [WEATHER], "stream": False}
    message = client.post("/api/chat", json=body).json()["message"]
    assert "tool_calls" not in message and "sunny, 21 C" in message["content"]


def test_format_schema_answer_validates(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "age": {"type": "integer", "minimum": 18},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 2},
            "kind": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]},
        },
        "required": ["age", "tags"],
        "$defs": {"tag": {"type": "string", "minLength": 8}},
    }
    body = {"model": "llama3.1", "messages": USER, "format": schema, "stream": False}
    jsonschema.validate(json.loads(client.post("/api/chat", json=body).json()["message"]["content"]), schema)


def test_format_json_answers_an_object(client: TestClient) -> None:
    chunks = _lines(client.post("/api/chat", json={"model": "gemma3", "messages": USER, "format": "json"}))
    assert isinstance(json.loads("".join(c["message"]["content"] for c in chunks)), dict)


def test_embed_takes_a_string_or_a_list_and_is_deterministic(client: TestClient) -> None:
    one = client.post("/api/embed", json={"model": "embeddinggemma", "input": "hello"}).json()
    two = client.post("/api/embed", json={"model": "embeddinggemma", "input": ["hello", "world"]}).json()
    assert len(one["embeddings"]) == 1 and len(two["embeddings"]) == 2
    assert one["embeddings"][0] == two["embeddings"][0] != two["embeddings"][1]
    assert len(one["embeddings"][0]) == 768 and abs(sum(v * v for v in one["embeddings"][0]) - 1) < 1e-3
    assert client.post("/api/embed", json={"model": "embeddinggemma", "input": [1]}).status_code == 400


def test_think_streams_thinking_chunks_before_the_answer(client: TestClient) -> None:
    chunks = _lines(client.post("/api/chat", json={"model": "qwen3", "messages": USER, "think": True}))
    kinds = ["thinking" if c["message"].get("thinking") else "content" for c in chunks[:-1]]
    assert kinds[0] == "thinking" and kinds[-1] == "content" and kinds == sorted(kinds, reverse=True)


def test_think_on_a_model_without_thinking_is_refused(client: TestClient) -> None:
    response = client.post("/api/chat", json={"model": "gemma3", "messages": USER, "think": True})
    assert response.status_code == 400 and response.json() == {"error": '"gemma3" does not support thinking'}


def test_a_pull_while_running_changes_the_models(client: TestClient) -> None:
    client.put("/_double/models", json={"models": ["gemma3", "llama3.1", "embeddinggemma", "qwen3", "mistral"]})
    assert any(m["name"] == "mistral:latest" for m in client.get("/api/tags").json()["models"])
    client.put("/_double/models", json={"models": ["gemma3", "llama3.1", "embeddinggemma", "qwen3"]})
