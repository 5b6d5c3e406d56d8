"""The cascade through the real LiteLLM proxy (our config and hook), the local tier on the Ollama double's /v1 with
its log-probabilities: a low-confidence local answer escalates to the strong tier, a confident one stays, a strong
tier that fails leaves the client the local answer, a private request never escalates, a stream is held back and
judged before anything is sent, and the tracker's events count an escalated request once, at its final tier.
The mechanism is tested here, not the quality (the double's log-probabilities are set by the test)."""

from __future__ import annotations

import json
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
from tracker.events import SUCCESS, AttemptEvent

pytestmark = pytest.mark.integration

LOCAL_PROMPT = "hello, how are you?"  # scored local by the shipped need model
UNSURE, SURE = -3.0, None  # every token's log-probability; None: the double's default (-0.32..-0.02)
THRESHOLD = -1.0


@pytest.fixture(scope="module")
def routing_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped routing.yaml with the cascade on at a fixed threshold (min_samples out of reach: the
    calibration has unit tests of its own) and the budget uncapped."""
    raw = yaml.safe_load(default_config_path().read_text())
    raw["budget"].update({"monthly_usd": 0, "refresh_s": 0})
    raw["health"].update({"refresh_s": 0, "litellm_refresh_s": 0})
    raw["learning"]["cascade"].update(
        {"enabled": True, "threshold": THRESHOLD, "min_samples": 1_000_000, "stream_prefix_tokens": 3}
    )
    path = tmp_path_factory.mktemp("cascade-routing") / "routing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _backends(ollama: stack.HttpDouble, redis_server: stack.RedisServer, cli_url: str, routing: Path) -> dict:
    return {
        "OLLAMA_API_BASE": ollama.base_url,
        "REDIS_URL": redis_server.url,
        "CLI_PROXY_API_BASE": cli_url,
        "MAXIMUS_ROUTING_CONFIG": str(routing),
    }


@pytest.fixture(scope="module")
def cli_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.openai_double(workdir, "cli-cascade") as double:
        yield double


@pytest.fixture(scope="module")
def proxy(workdir, ollama_double, redis_server, cli_double, routing_config) -> Iterator[stack.LiteLLMProxy]:
    backends = _backends(ollama_double, redis_server, cli_double.base_url, routing_config)
    with stack.litellm_proxy(workdir, backends) as running:
        yield running


@pytest.fixture(scope="module")
def strong_down_proxy(workdir, ollama_double, redis_server, routing_config) -> Iterator[stack.LiteLLMProxy]:
    backends = _backends(ollama_double, redis_server, stack.closed_port_url("/v1"), routing_config)
    with stack.litellm_proxy(workdir, backends) as running:
        yield running


@pytest.fixture()
def confidence(ollama_double, cli_double) -> Iterator[Any]:
    """Set the double's log-probability per test; the doubles' records cleared."""
    ollama_double.clear()
    cli_double.clear()

    def set_logprob(value: float | None) -> None:
        url = f"http://127.0.0.1:{ollama_double.port}/_double/logprobs"
        httpx.put(url, json={"logprob": value}, timeout=5).raise_for_status()

    yield set_logprob
    set_logprob(None)


def _post(proxy: stack.LiteLLMProxy, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{proxy.openai_base_url}/chat/completions", json=body, headers=proxy.headers(), timeout=120)


def _paths(double: stack.HttpDouble) -> list[str]:
    """The Ollama double's recorded routes, minus its own controls."""
    return [r["path"] for r in double.requests() if not r["path"].startswith("/_double")]


def _bodies(double: stack.HttpDouble, path: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in double.requests() if r["path"] == path]


def _strong_calls(cli: stack.HttpDouble) -> list[dict[str, Any]]:
    """The chat completions the OpenAI double (the power tier) answered: it records bodies only."""
    return [r["body"] for r in cli.requests()]


def test_an_unsure_local_answer_escalates_to_the_strong_tier(proxy, ollama_double, cli_double, confidence) -> None:
    confidence(UNSURE)
    response = _post(proxy, fakes.ask(LOCAL_PROMPT))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "power"
    assert (
        "cascade: local answer confidence -3.00 < configured threshold -1.00"
        in (response.headers["x-maximus-route-reason"])
    )
    answer = response.json()["choices"][0]
    assert "Local answer" not in answer["message"]["content"]
    assert answer.get("logprobs") is None  # the client did not ask for them
    local = _bodies(ollama_double, "/v1/chat/completions")
    assert len(local) == 1 and local[0]["logprobs"] is True
    assert len(_strong_calls(cli_double)) == 1


def test_a_confident_local_answer_stays_local(proxy, ollama_double, cli_double, confidence) -> None:
    confidence(SURE)
    response = _post(proxy, fakes.ask(LOCAL_PROMPT))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert "kept local" in response.headers["x-maximus-route-reason"]
    assert response.json()["choices"][0]["message"]["content"].startswith("Local answer")
    assert _paths(ollama_double) == ["/v1/chat/completions"]
    assert not _strong_calls(cli_double)


def test_the_client_keeps_the_log_probabilities_it_asked_for(proxy, confidence) -> None:
    confidence(SURE)
    response = _post(proxy, fakes.ask(LOCAL_PROMPT, logprobs=True))
    content = response.json()["choices"][0]["logprobs"]["content"]
    assert content and all(-0.33 < token["logprob"] < 0 for token in content)


def test_a_failing_strong_tier_leaves_the_local_answer(strong_down_proxy, ollama_double, confidence) -> None:
    confidence(UNSURE)
    response = _post(strong_down_proxy, fakes.ask(LOCAL_PROMPT))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert "power tier failed" in response.headers["x-maximus-route-reason"]
    assert response.json()["choices"][0]["message"]["content"].startswith("Local answer")


def test_a_private_request_never_escalates(proxy, ollama_double, cli_double, confidence) -> None:
    confidence(UNSURE)
    response = _post(proxy, fakes.ask(f"{LOCAL_PROMPT} my token is {fakes.GITHUB_TOKEN}"))
    assert response.status_code == 200, response.text
    assert response.headers["x-maximus-tier"] == "local"
    assert "cascade" not in response.headers["x-maximus-route-reason"]
    assert "/v1/chat/completions" not in _paths(ollama_double)  # never even asked for log-probabilities
    assert not _strong_calls(cli_double)


def _stream(proxy: stack.LiteLLMProxy, body: dict[str, Any]) -> tuple[httpx.Headers, str]:
    url = f"{proxy.openai_base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, headers=proxy.headers(), timeout=120) as response:
        text = "".join(response.iter_text())
        assert response.status_code == 200, text
        return response.headers, text


def _streamed_text(sse: str) -> str:
    parts = []
    for line in sse.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices") or []:
                parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


def test_an_unsure_stream_is_judged_before_anything_is_sent(proxy, cli_double, confidence) -> None:
    confidence(UNSURE)
    headers, sse = _stream(proxy, fakes.ask(LOCAL_PROMPT, stream=True))
    assert headers["x-maximus-tier"] == "power"
    assert "cascade" in headers["x-maximus-route-reason"]
    text = _streamed_text(sse)
    assert text and "Local answer" not in text  # not one local token reached the client
    assert '"logprobs"' not in sse or '"logprobs": null' in sse
    assert len(_strong_calls(cli_double)) == 1


def test_a_confident_stream_is_the_local_one_whole(proxy, cli_double, confidence) -> None:
    confidence(SURE)
    headers, sse = _stream(proxy, fakes.ask(LOCAL_PROMPT, stream=True))
    assert headers["x-maximus-tier"] == "local"
    assert _streamed_text(sse) == "Local answer from gemma3: I read 4 words."
    assert not _strong_calls(cli_double)


def _events(redis_server: stack.RedisServer, call_id: str) -> list[AttemptEvent]:
    client = redis.Redis.from_url(redis_server.url)
    found = []
    for _, fields in client.xrange("maximus:events"):
        event = AttemptEvent.from_fields({k.decode(): v.decode() for k, v in fields.items()})
        if event.call_id == call_id:
            found.append(event)
    return found


def _wait_events(redis_server: stack.RedisServer, call_id: str, count: int) -> list[AttemptEvent]:
    import time

    deadline = time.monotonic() + 10
    while True:
        events = [e for e in _events(redis_server, call_id) if e.kind == SUCCESS]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_an_escalated_request_counts_once_at_its_final_tier(proxy, redis_server, confidence) -> None:
    """The local attempt is an attempt only (maximus_internal cascade_draft); the strong answer is the request."""
    confidence(UNSURE)
    response = _post(proxy, fakes.ask(LOCAL_PROMPT))
    successes = _wait_events(redis_server, response.headers["x-litellm-call-id"], 2)
    requests = [e for e in successes if not e.internal]
    drafts = [e for e in successes if e.internal]
    assert [(e.tier, e.routed_tier) for e in requests] == [("power", "power")]
    assert "cascade" in requests[0].route_reasons
    assert [(e.tier, e.internal) for e in drafts] == [("local", "cascade_draft")]


def test_a_kept_local_answer_counts_once_at_local(proxy, redis_server, confidence) -> None:
    confidence(SURE)
    response = _post(proxy, fakes.ask(LOCAL_PROMPT))
    successes = _wait_events(redis_server, response.headers["x-litellm-call-id"], 1)
    assert [(e.tier, e.internal) for e in successes] == [("local", None)]
