"""Through the real LiteLLM proxy: max-vision (and image requests to max-auto) answered by this service.

The service phrases its answer with the local chat model through the same proxy (max-buddy on the Ollama
double): the picture reaches only the vision service, the words only the local tier.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.support import stack
from tests.support.processes import free_port
from tests.vision.conftest import VisionService, vision_services
from tests.vision.media import b64, data_url, image_bytes, pattern

pytestmark = pytest.mark.integration

VISION_KEY = "vi-" + "proxy" * 4
OLLAMA_ANSWER = "Local answer from gemma3"


@pytest.fixture(scope="module")
def proxy_and_vision(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path], ollama_double: stack.HttpDouble
) -> Iterator[tuple[stack.LiteLLMProxy, VisionService]]:
    workdir = tmp_path_factory.mktemp("vision-litellm")
    port = free_port()
    backends = {
        "VISION_API_BASE": f"http://127.0.0.1:{port}/v1",
        "VISION_API_KEY": VISION_KEY,
        "OLLAMA_API_BASE": ollama_double.base_url,
    }
    with stack.litellm_proxy(workdir, backends) as proxy:
        extra = {
            "VISION_CHAT_API_BASE": proxy.openai_base_url,
            "MAXIMUS_MASTER_KEY": proxy.master_key,  # the default key for phrasing calls
            "VISION_CHAT_MODEL": "max-buddy",
        }
        specs = {"phrased": (tiny_models["classifier"], VISION_KEY, extra)}
        with vision_services(workdir, specs, ports={"phrased": port}) as services:
            yield proxy, services["phrased"]


def client(proxy: stack.LiteLLMProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.openai_base_url, api_key=proxy.master_key, max_retries=0, timeout=60)


def picture_b64(seed: int) -> str:
    return b64(image_bytes(pattern(48, 64, seed)))


def image_message(seed: int = 1) -> list[dict]:
    url = "data:image/png;base64," + picture_b64(seed)
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the person doing?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def local_chats(double: stack.HttpDouble) -> list[dict]:
    return [r for r in double.requests() if r["path"] == "/api/chat"]


def test_max_vision_answers_phrased_by_the_local_model(proxy_and_vision, ollama_double) -> None:  # type: ignore[no-untyped-def]
    proxy, vision = proxy_and_vision
    ollama_double.clear()
    raw = client(proxy).chat.completions.with_raw_response.create(model="max-vision", messages=image_message())
    reply = raw.parse()
    assert raw.headers["x-litellm-model-group"] == "max-vision"
    assert reply.choices[0].message.content.startswith(OLLAMA_ANSWER)
    chats = local_chats(ollama_double)
    assert len(chats) == 1, "one phrasing call reached the local tier"
    assert "Findings:" in chats[0]["body"] and "most likely" in chats[0]["body"]
    sent = json.loads(chats[0]["body"])
    assert all(not message.get("images") for message in sent["messages"]), "the picture stayed here"
    assert picture_b64(1)[:64] not in chats[0]["body"]
    assert vision.metric("vision_requests_total", {"endpoint": "chat", "outcome": "ok"}) >= 1


def test_max_vision_streams(proxy_and_vision) -> None:  # type: ignore[no-untyped-def]
    proxy, _ = proxy_and_vision
    stream = client(proxy).chat.completions.create(model="max-vision", messages=image_message(2), stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.startswith(OLLAMA_ANSWER)


def test_max_vision_embeddings(proxy_and_vision) -> None:  # type: ignore[no-untyped-def]
    proxy, _ = proxy_and_vision
    inputs = [data_url(image_bytes(pattern(48, 64, s))) for s in (1, 2)]
    result = client(proxy).embeddings.create(model="max-vision", input=inputs)
    found = np.array([item.embedding for item in result.data])
    assert found.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)


def test_max_auto_with_an_image_is_answered_by_vision(proxy_and_vision) -> None:  # type: ignore[no-untyped-def]
    """The router's hook sends requests with pictures to the vision tier (router.policy)."""
    proxy, vision = proxy_and_vision
    before = vision.metric("vision_requests_total", {"endpoint": "chat", "outcome": "ok"})
    raw = client(proxy).chat.completions.with_raw_response.create(model="max-auto", messages=image_message(3))
    assert raw.headers["x-litellm-model-group"] == "max-vision"
    assert vision.metric("vision_requests_total", {"endpoint": "chat", "outcome": "ok"}) == before + 1
