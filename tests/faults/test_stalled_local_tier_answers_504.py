"""A local tier that accepts the request and never answers, through the real proxy: a clean 504, not a hang.

The proxy runs the shipped config with one change, a short timeout on the local deployments (tests.support.stack.
local_timeout), so that the shipped fallback chains and retries are what the client waits through. The Ollama
double stalls in the two ways a wedged model server does: it never sends headers, or it sends headers and then no
chunk. For each, streaming and not, the client must get a 504 with an OpenAI error body naming the tier, its
address and the fix, within the timeout of each local attempt plus a margin; the tracker records the failure with
its code; and the power tier answers while a local request is stalled.

A third stall comes after the first chunks of a stream ("midstream"): the status (200) and some content are out, so
the stream must end with LiteLLM's streaming error event, `data: {"error": {...}}` (proxy_server.async_data_generator
writes it from the exception's message, type, param and status_code; no `data: [DONE]` follows), carrying the same
clean 504 error, and the tracker records a failed request, not a success.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from tests.support import stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]

TIMEOUT_S = 2.0  # the local deployments' timeout in the test config (shipped: 600 s)
MARGIN_S = 20.0  # a correctness bound for a loaded 2-core machine, not a speed figure
FIX = "start Ollama or set OLLAMA_API_BASE"
EVENTS_STREAM = "maximus:events"  # services/tracker/tracker/tracker.yaml redis.stream
# Text that only a leaked exception, repr or traceback would put in a body.
INTERNALS = ("Traceback", "Exception", "litellm.", "Fallback", "REDACTED", "object at 0x", "<ssl", 'File "')


@dataclass
class StalledStack:
    proxy: stack.LiteLLMProxy
    ollama: stack.HttpDouble
    redis_url: str

    def config(self) -> dict[str, Any]:
        """The config the proxy runs (the shipped one, rendered, with the timeout edit)."""
        return yaml.safe_load((Path(self.proxy.env["MAXIMUS_RUN_DIR"]) / "litellm" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def stalled(workdir: Path, redis_server: stack.RedisServer) -> Iterator[StalledStack]:
    with stack.ollama_double(workdir) as ollama, stack.openai_double(workdir, "power") as power:
        backends = {
            "OLLAMA_API_BASE": ollama.base_url,
            "CLI_PROXY_API_BASE": power.base_url,
            "REDIS_URL": redis_server.url,
        }
        with stack.litellm_proxy(workdir, backends, edit=stack.local_timeout(TIMEOUT_S)) as proxy:
            yield StalledStack(proxy, ollama, redis_server.url)
            ollama.stall("off")


def local_attempts(config: dict[str, Any]) -> int:
    """The most local deployments one request can wait on: a local group and its local fallback chain."""
    local = {d["model_name"] for d in config["model_list"] if d.get("model_info", {}).get("sovereign_tier") == "local"}
    chains = {group: targets for rule in config["router_settings"]["fallbacks"] for group, targets in rule.items()}
    return max(1 + len(chains.get(group, [])) for group in local)


def ask(proxy: stack.LiteLLMProxy, model: str, stream: bool, within: float = 60.0) -> tuple[httpx.Response, str, float]:
    """The answer and its time; a hang fails the test once `within` seconds have passed without one."""
    started = time.monotonic()
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    url = f"{proxy.openai_base_url}/chat/completions"
    try:
        with httpx.stream("POST", url, json=body, headers=proxy.headers(), timeout=within) as response:
            text = response.read().decode()
    except httpx.TimeoutException:
        pytest.fail(f"{model} (stream={stream}) did not answer within {within:.0f} s")
    return response, text, time.monotonic() - started


def wait_for(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    return condition()


def request_failed_event(redis_url: str, call_id: str) -> dict | None:
    entries = redis.Redis.from_url(redis_url).xrange(EVENTS_STREAM)
    events = (json.loads(fields[b"e"]) for _, fields in entries)
    return next((e for e in events if e["kind"] == "request_failed" and e["call_id"] == call_id), None)


@dataclass
class StreamedAnswer:
    status: int
    call_id: str
    events: list[tuple[float, str]]  # (seconds since the request, the SSE data)
    seconds: float

    def chunks(self) -> list[tuple[float, dict]]:
        """The answer's chunks (events with choices), with their arrival times."""
        parsed = ((at, json.loads(data)) for at, data in self.events if data != "[DONE]")
        return [(at, chunk) for at, chunk in parsed if chunk.get("choices")]

    def content(self) -> str:
        return "".join(chunk["choices"][0]["delta"].get("content") or "" for _, chunk in self.chunks())


def stream(proxy: stack.LiteLLMProxy, model: str, within: float) -> StreamedAnswer:
    """Every SSE event of a streamed answer as it arrives; a hang fails the test after `within` seconds."""
    started = time.monotonic()
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": True}
    events = []
    try:
        url = f"{proxy.openai_base_url}/chat/completions"
        with httpx.stream("POST", url, json=body, headers=proxy.headers(), timeout=within) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append((time.monotonic() - started, line.removeprefix("data: ")))
                if time.monotonic() - started > within:
                    pytest.fail(f"{model} streamed for more than {within:.0f} s: {events}")
    except httpx.TimeoutException:
        pytest.fail(f"{model} (stream) went silent for {within:.0f} s without ending: {events}")
    call_id = response.headers["x-litellm-call-id"]
    return StreamedAnswer(response.status_code, call_id, events, time.monotonic() - started)


def events_of(redis_url: str, call_id: str) -> list[dict]:
    entries = redis.Redis.from_url(redis_url).xrange(EVENTS_STREAM)
    return [e for e in (json.loads(fields[b"e"]) for _, fields in entries) if e["call_id"] == call_id]


def chat_calls(ollama: stack.HttpDouble) -> int:
    return sum(r["path"] == "/api/chat" for r in ollama.requests())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("stall", ["never", "headers"], ids=["no-headers", "headers-then-nothing"])
def test_stalled_local_tier_answers_a_clean_504(stalled: StalledStack, stall: str, stream: bool) -> None:
    stalled.ollama.stall(stall)
    stalled.ollama.clear()
    attempts = local_attempts(stalled.config())
    bound = attempts * TIMEOUT_S + MARGIN_S
    response, text, seconds = ask(stalled.proxy, "max-auto", stream, within=bound)
    print(f"stall={stall} stream={stream}: {response.status_code} after {seconds:.2f} s ({attempts} local attempts)")

    assert response.status_code == 504, text
    error = json.loads(text)["error"]  # one JSON error body, also for a stream: nothing was streamed yet
    assert error["message"] == f"local tier unavailable: {stalled.ollama.base_url} did not answer in time: {FIX}"
    assert error["type"] == "timeout_error"
    assert error["code"] == "504"  # LiteLLM puts the status here; the router's code goes to the tracker
    leaked = [marker for marker in INTERNALS if marker in text]
    assert not leaked, f"internal text {leaked} in the body: {text}"

    assert TIMEOUT_S <= seconds <= bound
    assert 1 <= chat_calls(stalled.ollama) <= attempts, "each local attempt reached the stalled tier once"

    call_id = response.headers["x-litellm-call-id"]
    event = wait_for(lambda: request_failed_event(stalled.redis_url, call_id))
    assert event is not None, "the tracker recorded no request_failed event for this request"
    assert (event["tier"], event["error_type"]) == ("local", "local_tier_timeout")


def test_power_tier_answers_while_a_local_request_is_stalled(stalled: StalledStack) -> None:
    stalled.ollama.stall("never")
    stalled.ollama.clear()
    warm, _, _ = ask(stalled.proxy, "max-genius", False)  # the proxy's first power request loads its code
    assert warm.status_code == 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        local = pool.submit(ask, stalled.proxy, "max-buddy", True)
        assert wait_for(lambda: chat_calls(stalled.ollama) >= 1), "the local request never reached the double"
        power, text, seconds = ask(stalled.proxy, "max-genius", False)
        local_still_stalled = not local.done()
        local_response, _, local_seconds = local.result()
    print(f"power answered in {seconds:.2f} s; the stalled local request ended after {local_seconds:.2f} s")
    assert power.status_code == 200, text
    assert json.loads(text)["choices"][0]["message"]["content"] == "Answer from the power double."
    assert local_still_stalled, "the power answer came only after the stalled local request had ended"
    assert local_response.status_code == 504


MIDSTREAM_CHUNKS = 2  # the Ollama double sends this many chunks of its answer, then nothing


def test_local_tier_stalling_mid_stream_ends_the_stream_with_a_clean_error(stalled: StalledStack) -> None:
    stalled.ollama.stall("midstream", chunks=MIDSTREAM_CHUNKS)
    stalled.ollama.clear()
    warm, _, _ = ask(stalled.proxy, "max-genius", False)  # the proxy's first power request loads its code
    assert warm.status_code == 200
    bound = TIMEOUT_S + MARGIN_S  # a stream that has started is not retried or sent to a fallback
    with ThreadPoolExecutor(max_workers=1) as pool:
        local = pool.submit(stream, stalled.proxy, "max-auto", bound)
        assert wait_for(lambda: chat_calls(stalled.ollama) >= 1), "the local request never reached the double"
        power, power_text, power_seconds = ask(stalled.proxy, "max-genius", False)
        local_still_stalled = not local.done()
        answer = local.result()
    last_chunk_at = max((at for at, _ in answer.chunks()), default=0.0)
    print(
        f"midstream: {answer.status} with {answer.content()!r} by {last_chunk_at:.2f} s, ended after "
        f"{answer.seconds:.2f} s with {answer.events[-1][1] if answer.events else None}; "
        f"power answered in {power_seconds:.2f} s meanwhile"
    )

    assert answer.status == 200, "the status went out with the first chunk"
    assert answer.seconds <= bound
    assert answer.content() == "Local answer", "the chunks sent before the stall reach the client"
    assert answer.events, "the stream ended without any event"
    error = json.loads(answer.events[-1][1])["error"]  # the last event says why the answer stops there
    assert error["message"] == f"local tier unavailable: {stalled.ollama.base_url} did not answer in time: {FIX}"
    assert (error["type"], error["code"]) == ("timeout_error", "504")
    assert answer.events[-1][0] - last_chunk_at >= TIMEOUT_S * 0.9, "the error came before the stall timed out"
    body = "\n".join(data for _, data in answer.events)
    leaked = [marker for marker in INTERNALS if marker in body]
    assert not leaked, f"internal text {leaked} in the stream: {body}"
    assert chat_calls(stalled.ollama) == 1, "a stream that has started is not retried"

    assert wait_for(lambda: request_failed_event(stalled.redis_url, answer.call_id)), "no request_failed event"
    terminal = [e for e in events_of(stalled.redis_url, answer.call_id) if e["kind"] in ("success", "request_failed")]
    assert [(e["kind"], e["tier"], e["error_type"]) for e in terminal] == [
        ("request_failed", "local", "local_tier_timeout")
    ]

    assert power.status_code == 200, power_text
    assert json.loads(power_text)["choices"][0]["message"]["content"] == "Answer from the power double."
    assert local_still_stalled, "the power answer came only after the stalled local stream had ended"
