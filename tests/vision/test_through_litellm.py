"""Through the real LiteLLM proxy: max-vision (and image requests to max-auto) answered by this service.

The service phrases its answer with the local chat model through the same proxy (max-buddy on the Ollama
double): the picture reaches only the vision service, the words only the local tier. The proxy's tracker
callback publishes to a Redis of this module's own, where a real tracker counts each image chat once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.support import stack
from tests.support.processes import REPO, free_port
from tests.tracker.conftest import TrackerProcess, wait_consumed
from tests.vision.conftest import VisionService, vision_services
from tests.vision.media import b64, data_url, image_bytes, pattern

pytestmark = pytest.mark.integration

VISION_KEY = "vi-" + "proxy" * 4
OLLAMA_ANSWER = "Local answer from gemma3"
EVENT_STREAM = "maximus:events:vision-test"


@pytest.fixture(scope="module")
def events_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.RedisServer]:
    """A Redis of this module's own: the tracker's durable totals here hold only this module's requests."""
    with stack.redis_server(tmp_path_factory.mktemp("vision-events")) as server:
        yield server


@pytest.fixture(scope="module")
def proxy_and_vision(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_models: dict[str, Path],
    ollama_double: stack.HttpDouble,
    events_redis: stack.RedisServer,
) -> Iterator[tuple[stack.LiteLLMProxy, VisionService]]:
    workdir = tmp_path_factory.mktemp("vision-litellm")
    port = free_port()
    backends = {
        "VISION_API_BASE": f"http://127.0.0.1:{port}/v1",
        "VISION_API_KEY": VISION_KEY,
        "OLLAMA_API_BASE": ollama_double.base_url,
        "MAXIMUS_REDIS_URL": events_redis.url,
        "REDIS_URL": events_redis.url,
        "MAXIMUS_EVENT_STREAM": EVENT_STREAM,
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


def local_success_attempts(tracker: TrackerProcess) -> float:
    for line in tracker.metrics().splitlines():
        if line.startswith('maximus_attempts_total{outcome="success",tier="local"} '):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_an_image_chat_is_counted_once_by_the_tracker(  # type: ignore[no-untyped-def]
    proxy_and_vision, events_redis, ollama_double, tmp_path: Path
) -> None:
    """The phrasing call through max-buddy is part of the image chat: one request (vision), not a second (local)."""
    proxy, _ = proxy_and_vision
    tracker = TrackerProcess(events_redis.url, tmp_path / "tracker", litellm_config=REPO / "litellm" / "config.yaml")
    tracker.env["MAXIMUS_EVENT_STREAM"] = EVENT_STREAM
    tracker.start()
    try:
        wait_consumed(events_redis.url, stream=EVENT_STREAM)  # what earlier tests of this module sent
        attempts_before = local_success_attempts(tracker)
        ollama_double.clear()
        raw = client(proxy).chat.completions.with_raw_response.create(model="max-vision", messages=image_message(4))
        assert raw.parse().choices[0].message.content.startswith(OLLAMA_ANSWER)
        assert len(local_chats(ollama_double)) == 1, "the answer was phrased by the local tier"
        call_id = raw.headers["x-litellm-call-id"]
        audit_path = tracker.directory / "audit" / "audit.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both events travel asynchronously: the answer's and the phrasing's
            counted = audit_path.exists() and call_id in audit_path.read_text()
            if counted and local_success_attempts(tracker) > attempts_before:
                break
            time.sleep(0.2)
        wait_consumed(events_redis.url, stream=EVENT_STREAM)
        audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
        ours = [line for line in audit if line["call_id"] == call_id]
        assert [(line["tier"], line["model"], line["outcome"]) for line in ours] == [
            ("vision", "max-vision", "success")
        ]
        assert local_success_attempts(tracker) == attempts_before + 1, "the phrasing call is an attempt"
        stats = tracker.stats()
        assert stats["tiers"]["local"]["requests"] == 0, "no image chat was counted a second time, as local"
        assert stats["tiers"]["local"]["output_tokens"] > 0, "the phrasing call's tokens are kept"
        assert all(line["tier"] != "local" for line in audit)
        assert stats["sovereignty_ratio"]["all_time"] == 1.0
    finally:
        tracker.stop()
