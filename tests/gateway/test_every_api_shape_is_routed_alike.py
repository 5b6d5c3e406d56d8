"""Through the real gateway (LiteLLM 1.108.7, our edge and hook, the Ollama double): /v1/messages, /v1/responses
and /v1/completions are routed like /v1/chat/completions, with the same headers, tracker event and privacy; tools
reach llama3.1 and images gemma3 (their Ollama capabilities); errors on /v1/messages are Anthropic's shape."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
import redis
import yaml

from tests.router import fakes
from tests.router.test_request_view_reads_every_shape import ANTHROPIC_IMAGE, ANTHROPIC_TOOL
from tests.support import stack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EVENTS_STREAM = "maximus:events"  # services/tracker/tracker/tracker.yaml redis.stream
TERMINAL_KINDS = ("success", "request_failed")  # tracker.events: one of them ends each request
TIER, REASON, SCORE = "x-maximus-tier", "x-maximus-route-reason", "x-maximus-route-score"


@pytest.fixture(scope="module")
def gateway(
    workdir: Path, ollama_double: stack.HttpDouble, redis_server: stack.RedisServer
) -> Iterator[stack.LiteLLMProxy]:
    """The shipped routing.yaml, but capabilities re-read every 0.2 s (a test changes them) and no escalation for a
    missing capability (the power tier here is a closed port: escalating would only test its fallback)."""
    routing = yaml.safe_load((REPO / "litellm" / "routing.yaml").read_text())
    routing["shapes"].update(refresh_s=0.2, escalate=False)
    path = workdir / "routing-shapes.yaml"
    path.write_text(yaml.safe_dump(routing))
    backends = {
        "OLLAMA_API_BASE": ollama_double.base_url,
        "REDIS_URL": redis_server.url,
        "MAXIMUS_ROUTING_CONFIG": str(path),
    }
    with stack.litellm_proxy(workdir, backends) as proxy:
        yield proxy


# A tool with an argument: LiteLLM 1.108.7's Ollama stream gives a call an id only when its arguments are non-empty
# (llms/ollama/chat/transformation.py), and its Responses stream drops a call without an id.
SHELL_TOOL = {
    "type": "function",
    "name": "shell",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}


def post(proxy: stack.LiteLLMProxy, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{proxy.base_url}{path}", json=body, headers=proxy.headers(), timeout=30)


def chats(double: stack.HttpDouble) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in double.requests() if r["path"] == "/api/chat"]


def tracker_events(redis_url: str, call_id: str, seconds: float = 10.0) -> list[dict[str, Any]]:
    """The tracker events of one request (the publisher writes them off the request path)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + seconds
    while True:
        events = [json.loads(f[b"e"]) for _, f in client.xrange(EVENTS_STREAM)]
        mine = [e for e in events if e["call_id"] == call_id]
        if any(e["kind"] in TERMINAL_KINDS for e in mine) or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def assert_routed_local(response: httpx.Response | Any, redis_url: str) -> None:
    headers = response.headers
    assert headers[TIER] == "local", headers.get(REASON)
    assert headers[REASON] and headers[SCORE]
    events = tracker_events(redis_url, headers["x-litellm-call-id"])
    assert events, "the tracker got an event for this request"
    assert [e["kind"] for e in events] == ["success"], "counted once"
    assert events[0]["routed_tier"] == "local" and events[0]["tier"] == "local"


def message(text: str, model: str = "claude-sonnet-4-5", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}], **extra}


def test_claude_code_message_is_routed_local_and_echoes_its_model(gateway, ollama_double, redis_server) -> None:
    ollama_double.clear()
    response = post(gateway, "/v1/messages", message("hello there"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "claude-sonnet-4-5", "the answer echoes the alias Claude Code asked for"
    assert body["content"][0]["text"].startswith("Local answer from gemma3")
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert_routed_local(response, redis_server.url)
    assert [c["model"] for c in chats(ollama_double)] == ["gemma3"]


def test_the_max_tokens_1_probe_and_the_small_fast_model_are_answered_locally(gateway, redis_server) -> None:
    response = post(gateway, "/v1/messages", message("quota", model="claude-haiku-4-5-20251001", max_tokens=1))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "claude-haiku-4-5-20251001"
    assert_routed_local(response, redis_server.url)


def test_a_streamed_message_has_the_headers_and_claude_codes_events(gateway, redis_server) -> None:
    url = f"{gateway.base_url}/v1/messages"
    with httpx.stream(
        "POST", url, json=message("hello there", stream=True), headers=gateway.headers(), timeout=30
    ) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert response.status_code == 200
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    assert events[0]["message"]["model"] == "claude-sonnet-4-5"
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["usage"]["output_tokens"] > 0
    assert_routed_local(response, redis_server.url)


def test_anthropic_sdk_tools_reach_llama31_and_round_trip(gateway, ollama_double, redis_server) -> None:
    client = anthropic.Anthropic(base_url=gateway.base_url, api_key=gateway.master_key, max_retries=0, timeout=30)
    ollama_double.clear()
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        tools=[ANTHROPIC_TOOL],
        messages=[{"role": "user", "content": "what time is it"}],
    )
    reply = raw.parse()
    assert raw.headers[TIER] == "local" and "capability: tools -> max-planner (llama3.1)" in raw.headers[REASON]
    calls = [block for block in reply.content if block.type == "tool_use"]
    assert [c.name for c in calls] == ["now"] and reply.stop_reason == "tool_use"
    assert [c["model"] for c in chats(ollama_double)] == ["llama3.1"], "gemma3 (no tools) was never tried"
    events = tracker_events(redis_server.url, raw.headers["x-litellm-call-id"])
    assert {e["model_group"] for e in events} == {"max-planner"}
    result = {"type": "tool_result", "tool_use_id": calls[0].id, "content": "12:00"}
    follow = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        tools=[ANTHROPIC_TOOL],
        messages=[
            {"role": "user", "content": "what time is it"},
            {"role": "assistant", "content": [c.model_dump() for c in calls]},
            {"role": "user", "content": [result]},
        ],
    )
    assert "12:00" in follow.content[0].text


def test_an_image_on_messages_reaches_gemma3(gateway, ollama_double, redis_server) -> None:
    ollama_double.clear()
    body = message("")
    body["messages"] = [{"role": "user", "content": [ANTHROPIC_IMAGE, {"type": "text", "text": "what is in it"}]}]
    response = post(gateway, "/v1/messages", body)
    assert response.status_code == 200, response.text
    assert "capability: vision -> max-buddy (gemma3)" in response.headers[REASON]
    sent = chats(ollama_double)
    assert [c["model"] for c in sent] == ["gemma3"] and sent[0]["messages"][-1].get("images")
    assert_routed_local(response, redis_server.url)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_responses_with_tools_reach_llama31(gateway, ollama_double, redis_server, stream: bool) -> None:
    ollama_double.clear()
    body = {"model": "gpt-5-codex", "input": "list the files", "tools": [SHELL_TOOL], "stream": stream}
    with httpx.stream(
        "POST", f"{gateway.base_url}/v1/responses", json=body, headers=gateway.headers(), timeout=30
    ) as response:
        text = response.read().decode()
    assert response.status_code == 200, text
    assert "capability: tools -> max-planner (llama3.1)" in response.headers[REASON]
    assert '"function_call"' in text and '"shell"' in text
    assert [c["model"] for c in chats(ollama_double)] == ["llama3.1"]
    assert_routed_local(response, redis_server.url)


def test_completions_are_routed_alike(gateway, redis_server) -> None:
    response = post(gateway, "/v1/completions", {"model": "max-auto", "prompt": "say hello", "max_tokens": 16})
    assert response.status_code == 200, response.text
    assert_routed_local(response, redis_server.url)


def test_private_data_on_messages_stays_local_even_for_a_cloud_model(gateway, ollama_double) -> None:
    ollama_double.clear()
    body = message(f"why does {fakes.DB_URL} refuse me", model="max-genius")
    body["system"] = "You are a coding agent."
    response = post(gateway, "/v1/messages", body)
    assert response.status_code == 200, response.text
    assert response.headers[TIER] == "local" and "privacy" in response.headers[REASON]
    assert chats(ollama_double), "answered by the local tier"


def test_count_tokens_is_answered_locally(gateway, ollama_double) -> None:
    ollama_double.clear()
    body = {
        "model": "claude-sonnet-4-5",
        "system": "You are Claude Code. " * 50,
        "tools": [ANTHROPIC_TOOL],
        "messages": [{"role": "user", "content": "hello there"}],
    }
    url = f"{gateway.base_url}/v1/messages/count_tokens?beta=true"
    response = httpx.post(url, json=body, headers={"x-api-key": gateway.master_key}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 250, "the system prompt alone is ~250 tokens"
    assert "x-litellm-call-id" not in response.headers, "answered by the edge, not by LiteLLM's endpoint"
    # /api/show: the capability reader; /_double: the test's own reads
    sent = [r for r in ollama_double.requests() if r["path"].startswith("/api/") and r["path"] != "/api/show"]
    assert sent == [] and "Claude Code" not in json.dumps(ollama_double.requests()), "nothing was sent to count it"
    bad = httpx.post(url, json={"model": "claude-sonnet-4-5"}, headers=gateway.headers(), timeout=30)
    assert bad.status_code == 400 and bad.json()["type"] == "error"


def assert_anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind and set(body["error"]) == {"type", "message"}
    text = response.text.lower()
    for leak in ("litellm", "exception", "docs.", "fallback"):
        assert leak not in text, response.text
    return body["error"]["message"]


@pytest.mark.parametrize(
    ("change", "param"),
    [({"messages": "hello"}, "messages"), ({"max_tokens": -1}, "max_tokens"), ({"model": "nope"}, "nope")],
    ids=["messages", "max_tokens", "model"],
)
def test_bad_messages_requests_get_anthropic_errors(gateway, change: dict[str, Any], param: str) -> None:
    assert param in assert_anthropic_error(
        post(gateway, "/v1/messages", {**message("hi"), **change}), 400, "invalid_request_error"
    )


def test_no_local_model_with_tools_is_an_anthropic_400_naming_the_pull(gateway, ollama_double) -> None:
    set_caps = f"{ollama_double.base_url}/_double/models"
    httpx.put(set_caps, json={"capabilities": {"llama3.1": ["completion"]}}, timeout=5).raise_for_status()
    try:
        deadline, response = time.monotonic() + 10, None
        while time.monotonic() < deadline:  # until the background reader (every 0.2 s here) has seen the change
            response = post(gateway, "/v1/messages", message("what time is it", tools=[ANTHROPIC_TOOL]))
            if "ollama pull" in response.text:
                break
            time.sleep(0.2)
        text = assert_anthropic_error(response, 400, "invalid_request_error")
        assert "needs tools" in text and "ollama pull llama3.1" in text
    finally:
        httpx.put(set_caps, json={"capabilities": {"llama3.1": ["completion", "tools"]}}, timeout=5).raise_for_status()


def test_local_tier_down_on_messages_is_an_anthropic_503(workdir: Path) -> None:
    with stack.litellm_proxy(workdir, {"OLLAMA_API_BASE": stack.closed_port_url()}) as proxy:
        for body in (message("hello there"), message("hello there", stream=True)):
            text = assert_anthropic_error(post(proxy, "/v1/messages", body), 503, "overloaded_error")
            assert text.startswith("local tier unavailable: nothing answers at http://127.0.0.1:")
        responses = post(proxy, "/v1/responses", {"model": "gpt-5-codex", "input": "hello there"})
        assert responses.status_code == 503, responses.text
        error = responses.json()["error"]
        assert (
            error["message"].startswith("local tier unavailable: nothing answers at")
            and "litellm" not in responses.text.lower()
        )


def test_a_tools_request_for_a_strong_tier_falls_back_to_llama31(gateway, ollama_double) -> None:
    """max-genius (the power tier: a closed port here) falls back locally; with tools, to the model that has them."""
    ollama_double.clear()
    response = post(gateway, "/v1/messages", message("what time is it", model="max-genius", tools=[ANTHROPIC_TOOL]))
    assert response.status_code == 200, response.text
    assert [block["type"] for block in response.json()["content"]][-1] == "tool_use"
    assert [c["model"] for c in chats(ollama_double)] == ["llama3.1"], "gemma3 (no tools) was never tried"
    assert response.headers.get("x-litellm-model-group") == "max-planner"


def test_a_local_tier_stalled_mid_stream_ends_the_message_stream_with_an_anthropic_error(workdir: Path) -> None:
    """Claude Code keeps the chunks it got and reads an `error` event (not a dropped connection, not LiteLLM's text)."""
    with (
        stack.ollama_double(workdir) as double,
        stack.litellm_proxy(workdir, {"OLLAMA_API_BASE": double.base_url}, edit=stack.local_timeout(2)) as proxy,
    ):
        double.stall("midstream", 2)
        url = f"{proxy.base_url}/v1/messages"
        with httpx.stream(
            "POST", url, json=message("hello there", stream=True), headers=proxy.headers(), timeout=30
        ) as response:
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        events = [json.loads(line[6:]) for line in lines]
        assert events[0]["type"] == "message_start" and any(e["type"] == "content_block_delta" for e in events)
        assert events[-1]["type"] == "error" and events[-1]["error"]["message"].startswith("local tier unavailable")
        assert "litellm" not in "\n".join(lines).lower()
