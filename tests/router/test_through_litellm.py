"""Through the real LiteLLM proxy (`maximus serve litellm` with our config and hook), backends on doubles:
max-auto rerouted to each tier, a down power tier falling back to local, private requests kept local even with
fallbacks that would reach the cloud, an explicit max-genius carrying a secret redirected to local, and the
x-maximus-* headers on streaming and non-streaming answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from router.config import default_config_path
from tests.router import fakes
from tests.support import stack

pytestmark = pytest.mark.integration

IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
    "RU5ErkJggg=="
)
CODE = fakes.HARD_PROMPT  # multi-step maths: a need score above the threshold, escalated to power
POEM = fakes.HARD_WRITING  # a long constrained story: escalated to creative
BUDGET_USD = 5.0


@pytest.fixture(scope="module")
def routing_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped routing.yaml with a budget and no caching of Redis reads (tests change keys between calls)."""
    raw = yaml.safe_load(default_config_path().read_text())
    raw["budget"].update({"monthly_usd": BUDGET_USD, "refresh_s": 0})
    raw["health"]["refresh_s"] = 0
    raw["health"]["litellm_refresh_s"] = 0
    path = tmp_path_factory.mktemp("routing") / "routing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def cli_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(workdir, "cli") as double:
        yield double


@pytest.fixture(scope="module")
def failing_cli_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(workdir, "cli-down", fail_status=503) as double:
        yield double


@pytest.fixture(scope="module")
def vision_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(workdir, "vision") as double:
        yield double


@pytest.fixture(scope="module")
def cloud_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(workdir, "cloud") as double:
        yield double


def _backends(
    ollama: stack.HttpDouble,
    redis_server: stack.RedisServer,
    cli: stack.HttpDouble,
    cloud: stack.HttpDouble,
    routing: Path,
    vision: stack.HttpDouble | None = None,
) -> dict[str, str]:
    backends = {
        "OLLAMA_API_BASE": ollama.base_url,
        "REDIS_URL": redis_server.url,
        "CLI_PROXY_API_BASE": cli.base_url,
        # The cloud group exists only with a key; it is appended to the power/creative fallback chains.
        "OPENAI_API_KEY": "sk-double-" + "c" * 8,
        "OPENAI_API_BASE": cloud.base_url,
        "MAXIMUS_ROUTING_CONFIG": str(routing),
    }
    if vision is not None:
        backends["VISION_API_BASE"] = vision.base_url
    return backends


@pytest.fixture(scope="module")
def proxy(
    workdir, ollama_double, redis_server, cli_double, vision_double, cloud_double, routing_config
) -> Iterator[stack.LiteLLMProxy]:
    backends = _backends(ollama_double, redis_server, cli_double, cloud_double, routing_config, vision_double)
    with stack.litellm_proxy(workdir, backends) as running_proxy:
        yield running_proxy


@pytest.fixture(scope="module")
def power_down_proxy(
    workdir, ollama_double, redis_server, failing_cli_double, cloud_double, routing_config
) -> Iterator[stack.LiteLLMProxy]:
    backends = _backends(ollama_double, redis_server, failing_cli_double, cloud_double, routing_config)
    with stack.litellm_proxy(workdir, backends) as running_proxy:
        yield running_proxy


@pytest.fixture(scope="module")
def local_down_proxy(workdir, redis_server, cli_double, cloud_double, routing_config) -> Iterator[stack.LiteLLMProxy]:
    """The local backend is down; the power tier and the cloud answer (so a request that escaped would succeed)."""
    local_down = stack.HttpDouble(stack.closed_port_url(), 0)
    backends = _backends(local_down, redis_server, cli_double, cloud_double, routing_config)
    with stack.litellm_proxy(workdir, backends) as running_proxy:
        yield running_proxy


@pytest.fixture(scope="module")
def refusing_proxy(workdir, ollama_double, redis_server, cli_double, cloud_double, routing_config, tmp_path_factory):
    raw = yaml.safe_load(routing_config.read_text())
    raw["privacy"]["action"] = "refuse"
    refusing = tmp_path_factory.mktemp("refusing") / "routing.yaml"
    refusing.write_text(yaml.safe_dump(raw))
    backends = _backends(ollama_double, redis_server, cli_double, cloud_double, refusing)
    with stack.litellm_proxy(workdir, backends) as running_proxy:
        yield running_proxy


@pytest.fixture()
def doubles(ollama_double, cli_double, failing_cli_double, vision_double, cloud_double) -> dict[str, Any]:
    all_doubles = {
        "local": ollama_double,
        "cli": cli_double,
        "cli-down": failing_cli_double,
        "vision": vision_double,
        "cloud": cloud_double,
    }
    for double in all_doubles.values():
        httpx.delete(f"http://127.0.0.1:{double.port}/_double/requests", timeout=5).raise_for_status()
    return all_doubles


def _post(proxy: stack.LiteLLMProxy, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{proxy.openai_base_url}/chat/completions",
        json=body,
        headers={**proxy.headers(), **(headers or {})},
        timeout=120,
    )


def _requests(double: stack.HttpDouble) -> list[dict[str, Any]]:
    """What a double recorded (at its root: the OpenAI doubles' base_url ends in /v1), minus its own routes."""
    response = httpx.get(f"http://127.0.0.1:{double.port}/_double/requests", timeout=5)
    response.raise_for_status()
    return [r for r in response.json() if not str(r.get("path", "")).startswith("/_double")]


def _saw(double: stack.HttpDouble, text: str) -> bool:
    return any(text in str(r) for r in _requests(double))


@pytest.mark.parametrize(
    ("content", "tier", "backend", "upstream_model"),
    [
        ("hello, how are you?", "local", "local", "gemma3"),
        (CODE, "power", "cli", "claude-sonnet"),
        (POEM, "creative", "cli", "claude-opus"),
        (
            [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": IMAGE}}],
            "vision",
            "vision",
            "vjepa2",
        ),
    ],
)
def test_max_auto_is_rerouted_to_each_tier(proxy, doubles, content, tier, backend, upstream_model) -> None:
    response = _post(proxy, fakes.ask(content) if isinstance(content, str) else fakes.request(fakes.user(content)))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == tier
    assert response.headers["x-maximus-route-reason"]
    assert 0.0 <= float(response.headers["x-maximus-route-score"]) <= 1.0  # every request here has text
    assert _saw(doubles[backend], upstream_model)
    assert not _requests(doubles["cloud"])


def test_tier_headers_on_streaming_answers(proxy, doubles) -> None:
    body = fakes.ask(POEM, stream=True)
    with httpx.stream(
        "POST", f"{proxy.openai_base_url}/chat/completions", json=body, headers=proxy.headers(), timeout=120
    ) as response:
        chunks = "".join(response.iter_text())
        assert response.status_code == 200, chunks
        assert response.headers["x-maximus-tier"] == "creative"
        assert "classifier: creative" in response.headers["x-maximus-route-reason"]
        assert float(response.headers["x-maximus-route-score"]) > 0.3
    assert "data:" in chunks and "[DONE]" in chunks


def test_explicit_header_tier(proxy, doubles) -> None:
    response = _post(proxy, fakes.ask("hello there"), headers={"x-maximus-tier": "power"})
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "power"
    assert _saw(doubles["cli"], "claude-sonnet")


def test_explicit_metadata_tier(proxy, doubles) -> None:
    response = _post(proxy, fakes.ask("hello there", metadata={"tier": "creative"}))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "creative"
    assert _saw(doubles["cli"], "claude-opus")


def test_explicit_model_is_honoured(proxy, doubles) -> None:
    response = _post(proxy, fakes.ask("hello there", model="max-opus"))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "creative"
    assert response.headers["x-litellm-model-group"] == "max-opus"


def test_explicit_genius_with_a_secret_is_redirected_to_local(proxy, doubles) -> None:
    body = fakes.ask(f"Say hi. My token is {fakes.GITHUB_TOKEN}", model="max-genius")
    response = _post(proxy, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert fakes.GITHUB_TOKEN not in response.headers["x-maximus-route-reason"]
    assert _saw(doubles["local"], "Say hi")
    assert not _requests(doubles["cli"]) and not _requests(doubles["cloud"])
    assert fakes.GITHUB_TOKEN not in proxy.log_text()


def test_power_tier_marked_down_is_skipped(proxy, doubles, redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("maximus:tier:power:down", "maintenance")
    try:
        response = _post(proxy, fakes.ask(CODE))
    finally:
        client.delete("maximus:tier:power:down")
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert "marked down" in response.headers["x-maximus-route-reason"]
    assert not _requests(doubles["cli"])


def test_budget_cap_sends_power_work_local(proxy, doubles, redis_server) -> None:
    key = f"maximus:month:{dt.datetime.now(dt.UTC):%Y-%m}"  # the tracker's durable month totals
    client = redis.Redis.from_url(redis_server.url)
    client.hset(key, "cost_usd", str(BUDGET_USD + 1))
    try:
        response = _post(proxy, fakes.ask(CODE))
    finally:
        client.delete(key)
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert "budget" in response.headers["x-maximus-route-reason"]
    assert not _requests(doubles["cli"])


def test_power_request_falls_back_to_local_when_the_power_tier_is_down(power_down_proxy, doubles) -> None:
    response = _post(power_down_proxy, fakes.ask(CODE))
    assert response.status_code == 200, response.text
    assert response.headers["x-litellm-model-group"] in ("max-buddy", "max-planner")
    assert _saw(doubles["local"], "A tank fills at 12 L/min")
    assert not _requests(doubles["cloud"])


def test_cooling_down_power_tier_is_skipped_before_it_is_tried(power_down_proxy, doubles) -> None:
    # Each failure goes through LiteLLM's fallback to local; once LiteLLM cools the deployment down (after
    # router_settings.allowed_fails), the hook reads the cooldown and routes local without trying power.
    routes = []
    for attempt in range(8):
        response = _post(power_down_proxy, fakes.ask(f"{CODE} (variant {attempt})"))
        assert response.status_code == 200, response.text
        routes.append(response.headers["x-maximus-route-reason"])
        if "cooling down" in routes[-1]:
            break
    assert "power tier cooling down: skipped to local" in routes[-1], routes
    assert response.headers["x-maximus-tier"] == "local"
    assert not _requests(doubles["cloud"])


def test_private_request_with_cloud_fallbacks_stays_local(local_down_proxy, doubles) -> None:
    # The local backend fails: only the pin (model rewritten to a local group, fallbacks disabled) keeps the
    # request from max-genius (the CLI double, which answers) and from the client's cloud fallback (which answers).
    body = fakes.ask(f"Say hi. Card {fakes.VISA_TEST_CARD}", model="max-genius", fallbacks=["max-cloud-openai"])
    response = _post(local_down_proxy, body)
    assert response.status_code >= 400, response.text
    assert "error" in response.json()
    assert not _requests(doubles["cli"])
    assert not _requests(doubles["cloud"])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "max-auto", "messages": []}, "messages"),
        ({"model": "max-auto", "messages": "hello"}, "messages"),
        (fakes.request(fakes.user("hi"), {"role": "assistant", "tool_calls": 5}), "messages[1].tool_calls"),
    ],
)
def test_malformed_bodies_answer_an_openai_400(proxy, doubles, body, param) -> None:
    response = _post(proxy, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    for double in doubles.values():
        # OpenAI doubles record completions only (no path); the Ollama double records every route.
        assert not [r for r in _requests(double) if r.get("path") in (None, "/api/chat", "/api/generate")]


def test_refuse_policy_answers_403_in_openai_shape(refusing_proxy, doubles) -> None:
    response = _post(refusing_proxy, fakes.ask(f"Say hi. Key {fakes.AWS_KEY_ID}", model="max-opus"))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert {"message", "type", "code"} <= set(error)
    assert fakes.AWS_KEY_ID not in response.text
    assert not _requests(doubles["cli"]) and not _requests(doubles["cloud"])
    assert not [r for r in _requests(doubles["local"]) if r.get("path") == "/api/chat"]
    # max-auto is still served, locally.
    response = _post(refusing_proxy, fakes.ask(f"Say hi. Key {fakes.AWS_KEY_ID}"))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
