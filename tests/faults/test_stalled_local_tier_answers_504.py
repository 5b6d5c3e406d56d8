"""A local tier that accepts the request and never answers, through the real proxy: a clean 504, not a hang.

The proxy runs the shipped config with one change, a short timeout on the local deployments (tests.support.stack.
local_timeout), so that the shipped fallback chains and retries are what the client waits through. The Ollama
double stalls in the two ways a wedged model server does: it never sends headers, or it sends headers and then no
chunk. For each, streaming and not, the client must get a 504 with an OpenAI error body naming the tier, its
address and the fix, within the timeout of each local attempt plus a margin; the tracker records the failure with
its code; and the power tier answers while a local request is stalled.
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
