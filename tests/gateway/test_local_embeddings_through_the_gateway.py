"""/v1/embeddings end to end: the official OpenAI SDK, the real LiteLLM gateway with our config and hook, the Ollama
double (embeddinggemma, Ollama 0.12.6's /api/embed), a cloud OpenAI double configured as text-embedding-3-small
(OPENAI_API_KEY set), Redis and the tracker. Embeddings stay on the machine unless the client names the cloud
model, and never leave it with private data."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.doubles import ollama_content
from tests.support import stack
from tests.support.processes import REPO
from tests.tracker.conftest import TrackerProcess, wait_consumed

pytestmark = pytest.mark.integration

CLOUD = "text-embedding-3-small"
SECRET = "the deploy token is ghp_" + "A1b2" * 9  # built from parts: no whole secret in the file
TEXTS = ["the cat sat on the mat", "embeddings stay on this machine"]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(tmp_path_factory.mktemp("cloud"), "cloud") as double:
        yield double


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    ollama_double: stack.HttpDouble,
    cloud: stack.HttpDouble,
    redis_server: stack.RedisServer,
) -> Iterator[stack.LiteLLMProxy]:
    backends = {
        "OLLAMA_API_BASE": ollama_double.base_url,
        "REDIS_URL": redis_server.url,
        "OPENAI_API_KEY": "sk-test-" + "cloud" * 4,
        "OPENAI_API_BASE": cloud.base_url,
    }
    with stack.litellm_proxy(tmp_path_factory.mktemp("gateway"), backends) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def tracker(redis_server: stack.RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerProcess]:
    proc = TrackerProcess(redis_server.url, tmp_path_factory.mktemp("tracker"), REPO / "litellm" / "config.yaml")
    proc.start()
    yield proc
    proc.stop()


def client(proxy: stack.LiteLLMProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.openai_base_url, api_key=proxy.master_key, max_retries=0, timeout=30)


def embeddings_row(tracker: TrackerProcess) -> dict[str, int]:
    empty = {"requests": 0, "failures": 0, "sovereign": 0, "tokens": 0}
    return tracker.stats().get("apis", {}).get("embeddings", empty)


def counted_after(tracker: TrackerProcess, redis_url: str, before: dict[str, int], key: str) -> dict[str, int]:
    """The tracker's embedding figures once the request's event is in (polled, then the stream drained)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and embeddings_row(tracker)[key] <= before[key]:
        time.sleep(0.2)
    wait_consumed(redis_url)
    return embeddings_row(tracker)


def cl100k_tokens(text: str) -> list[int]:
    """OpenAI's embedding tokenizer, from the copy LiteLLM ships (no download; LiteLLM itself is not imported)."""
    import importlib.util
    import os

    import tiktoken

    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    bundled = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    return tiktoken.get_encoding("cl100k_base").encode(text)


def cloud_embeddings(cloud: stack.HttpDouble) -> list[dict[str, Any]]:
    return [r["body"] for r in cloud.requests() if "input" in r["body"]]


@pytest.mark.parametrize("model", ["max-embed", "max-auto"])
def test_the_sdk_gets_local_vectors_with_the_headers_and_one_tracker_count(
    gateway: stack.LiteLLMProxy,
    ollama_double: stack.HttpDouble,
    tracker: TrackerProcess,
    redis_server: stack.RedisServer,
    model: str,
) -> None:
    ollama_double.clear()
    before = embeddings_row(tracker)
    raw = client(gateway).embeddings.with_raw_response.create(model=model, input=TEXTS)
    reply = raw.parse()
    vectors = [item.embedding for item in sorted(reply.data, key=lambda item: item.index)]
    assert [len(v) for v in vectors] == [768, 768], "embeddinggemma's dimension"
    for vector, text in zip(vectors, TEXTS, strict=True):  # the SDK asked for base64 and decoded float32
        assert vector == pytest.approx(ollama_content.embedding("embeddinggemma", text), abs=1e-6)
    assert raw.headers["x-maximus-tier"] == "local"
    assert raw.headers["x-litellm-model-group"] == "max-embed"
    assert ("explicit model: max-embed" if model == "max-embed" else "embeds on the machine") in raw.headers[
        "x-maximus-route-reason"
    ]
    embeds = [r for r in ollama_double.requests() if r["path"] == "/api/embed"]
    assert len(embeds) == 1 and '"model":"embeddinggemma"' in embeds[0]["body"].replace(" ", "")
    after = counted_after(tracker, redis_server.url, before, "requests")
    assert after["requests"] == before["requests"] + 1, "one request with two inputs is counted once"
    assert after["sovereign"] == before["sovereign"] + 1
    assert after["tokens"] == before["tokens"] + sum(len(t.split()) for t in TEXTS)


def test_base64_encoding_format_is_openais_float32(gateway: stack.LiteLLMProxy) -> None:
    reply = client(gateway).embeddings.create(model="max-embed", input="one text", encoding_format="base64")
    encoded = reply.data[0].embedding
    assert isinstance(encoded, str), "asked for base64: a string, as OpenAI answers"
    decoded = struct.unpack(f"<{len(base64.b64decode(encoded)) // 4}f", base64.b64decode(encoded))
    assert list(decoded) == pytest.approx(ollama_content.embedding("embeddinggemma", "one text"), abs=1e-6)
    floats = client(gateway).embeddings.create(model="max-embed", input="one text", encoding_format="float")
    assert isinstance(floats.data[0].embedding, list)


def test_a_named_cloud_embedding_model_answers_a_harmless_input(
    gateway: stack.LiteLLMProxy, cloud: stack.HttpDouble
) -> None:
    cloud.clear()
    raw = client(gateway).embeddings.with_raw_response.create(model=CLOUD, input=["the weather is mild"])
    assert len(raw.parse().data[0].embedding) == 1536
    assert raw.headers["x-maximus-tier"] == "cloud"
    assert [body["input"] for body in cloud_embeddings(cloud)] == [["the weather is mild"]]


@pytest.mark.parametrize(
    "value", [SECRET, ["harmless", SECRET], "tokens"], ids=["text", "one-of-several", "token-array"]
)
def test_a_secret_never_reaches_the_cloud_embedding_model(
    gateway: stack.LiteLLMProxy, cloud: stack.HttpDouble, ollama_double: stack.HttpDouble, value: Any
) -> None:
    if value == "tokens":  # cl100k_base ids of the secret: LiteLLM passes token arrays through to openai/
        value = [cl100k_tokens(SECRET)]
    cloud.clear()
    ollama_double.clear()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(gateway).embeddings.create(model=CLOUD, input=value)
    error = refused.value.response.json()["error"]
    assert "private data" in error["message"] and "max-embed" in error["message"]
    assert "litellm" not in refused.value.response.text.lower()
    assert cloud_embeddings(cloud) == [], "the cloud double received nothing"
    assert not [r for r in ollama_double.requests() if r["path"] == "/api/embed"], "refused, not re-embedded"
    assert "A1b2A1b2" not in refused.value.response.text


@pytest.mark.parametrize(
    ("model", "words"),
    [("max-buddy", "'max-buddy' is a chat model and does not embed"), ("gemma3", "is not an embedding model")],
)
def test_a_model_that_does_not_embed_is_a_clean_400(gateway: stack.LiteLLMProxy, model: str, words: str) -> None:
    response = httpx.post(
        f"{gateway.openai_base_url}/embeddings",
        json={"model": model, "input": "x"},
        headers=gateway.headers(),
        timeout=30,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert words in error["message"] and "max-embed" in error["message"]
    assert error["type"] == "invalid_request_error" and error["param"] == "model"
    assert "litellm" not in response.text.lower()


def test_a_local_embedding_model_that_is_not_pulled_names_the_pull(
    gateway: stack.LiteLLMProxy, ollama_double: stack.HttpDouble
) -> None:
    models_url = f"http://127.0.0.1:{ollama_double.port}/_double/models"
    httpx.put(models_url, json={"models": ["gemma3", "llama3.1"]}, timeout=5).raise_for_status()
    try:
        with pytest.raises(openai.InternalServerError) as failure:
            client(gateway).embeddings.create(model="max-embed", input="x")
    finally:
        httpx.put(models_url, json={"models": ["gemma3", "llama3.1", "embeddinggemma"]}, timeout=5)
    assert failure.value.status_code == 503
    message = failure.value.response.json()["error"]["message"]
    assert "ollama pull embeddinggemma" in message and ollama_double.base_url in message
    assert "litellm" not in failure.value.response.text.lower()


def test_ollama_down_is_the_local_tiers_clean_503(tmp_path: Path) -> None:
    address = stack.closed_port_url()
    with (
        stack.litellm_proxy(tmp_path, {"OLLAMA_API_BASE": address}) as proxy,
        pytest.raises(openai.InternalServerError) as failure,
    ):
        client(proxy).embeddings.create(model="max-auto", input="x")
    assert failure.value.status_code == 503
    assert failure.value.response.json()["error"]["message"] == (
        f"local tier unavailable: nothing answers at {address}: start Ollama or set OLLAMA_API_BASE"
    )
