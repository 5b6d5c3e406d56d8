"""Warm CLI workers: pre-started processes waiting on stdin, one request each, cold start when none fits."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable

import httpx

from tests.cli_proxy.conftest import RunningProxy, wait_gone

WARM = {"warm_pool": {"size": 1, "idle_lifetime_s": 60}, "env": {"FAKE_CLI_START_S": "0.2"}}


def echo(proxy: RunningProxy, model: str, system: str | None = None) -> dict:
    messages = [{"role": "user", "content": "SCENARIO=echo hello"}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    with proxy.client() as client:
        response = client.post("/v1/chat/completions", json={"model": model, "messages": messages})
    assert response.status_code == 200, response.text
    return json.loads(response.json()["choices"][0]["message"]["content"])


def pool_counts(proxy: RunningProxy, cli: str = "claude") -> dict[str, float]:
    text = httpx.get(f"{proxy.base_url}/metrics", timeout=10).text
    pattern = re.compile(rf'^cli_proxy_warm_pool_total\{{cli="{cli}",outcome="(\w+)"\}} (\S+)$', re.MULTILINE)
    return {"hit": 0.0, "miss": 0.0, **{outcome: float(value) for outcome, value in pattern.findall(text)}}


def wait_waiting(proxy: RunningProxy, count: int, cli: str = "claude", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while proxy.app.state.proxy.warm.waiting(cli) != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{cli}: {proxy.app.state.proxy.warm.waiting(cli)} warm processes, not {count}")
        time.sleep(0.02)


def test_each_warm_process_serves_exactly_one_request(proxy_factory: Callable) -> None:
    with proxy_factory(clis={"claude": WARM}) as proxy:
        first = echo(proxy, "claude-opus")
        served = [first]
        for _ in range(3):
            wait_waiting(proxy, 1)
            served.append(echo(proxy, "claude-opus"))
        pids = [answer["pid"] for answer in served]
        assert len(set(pids)) == 4, "a process served two requests"
        assert len({answer["cwd"] for answer in served}) == 4
        assert all(answer["prompt"] == "SCENARIO=echo hello" for answer in served)
        assert all(answer["model"] == "opus" for answer in served)
        assert pool_counts(proxy) == {"hit": 3.0, "miss": 1.0}
        wait_waiting(proxy, 1)
        assert 'cli_proxy_warm_processes{cli="claude"} 1.0' in httpx.get(f"{proxy.base_url}/metrics").text
        assert wait_gone(pids) == [], "a process lived on after its request"


def test_requests_whose_arguments_differ_start_cold(proxy_factory: Callable) -> None:
    with proxy_factory(clis={"claude": WARM, "gemini": {"warm_pool": {"size": 1}}}) as proxy:
        echo(proxy, "claude-opus")  # miss: fills the opus pool
        wait_waiting(proxy, 1)
        waiting_pid = proxy.spawned[-1][1]
        with_system = echo(proxy, "claude-opus", system="Answer in French.")
        assert with_system["system"] == "Answer in French." and with_system["pid"] != waiting_pid
        other_model = echo(proxy, "claude-sonnet")
        assert other_model["model"] == "sonnet" and other_model["pid"] != waiting_pid
        assert pool_counts(proxy) == {"hit": 0.0, "miss": 2.0}  # the system-prompt request never asks the pool
        wait_waiting(proxy, 2)  # opus still waiting, sonnet's filled behind its miss
        assert echo(proxy, "claude-opus")["pid"] == waiting_pid
        with proxy.client() as client:  # the Gemini CLI gives up on stdin after 0.5 s: never pre-started
            reply = client.post(
                "/v1/chat/completions",
                json={"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hello"}]},
            )
        assert reply.status_code == 200 and proxy.app.state.proxy.warm.waiting("gemini") == 0


def test_a_dead_or_expired_warm_process_falls_back_to_a_cold_start(proxy_factory: Callable) -> None:
    claude = {**WARM, "warm_pool": {"size": 1, "idle_lifetime_s": 1.5}}
    with proxy_factory(clis={"claude": claude}) as proxy:
        echo(proxy, "claude-opus")
        wait_waiting(proxy, 1)
        os.kill(proxy.spawned[-1][1], signal.SIGKILL)
        assert wait_gone([proxy.spawned[-1][1]]) == []
        answer = echo(proxy, "claude-opus")
        assert answer["prompt"] == "SCENARIO=echo hello"
        assert pool_counts(proxy) == {"hit": 0.0, "miss": 2.0}
        wait_waiting(proxy, 1)
        expiring = proxy.spawned[-1][1]
        assert wait_gone([expiring], timeout=10) == [], "a warm process outlived its idle lifetime"
        assert proxy.app.state.proxy.warm.waiting("claude") == 0, "an expired process is not replaced unasked"


def test_shutdown_leaves_no_cli_process_behind(proxy_factory: Callable) -> None:
    claude = {**WARM, "warm_pool": {"size": 3, "idle_lifetime_s": 60}}
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(proxy_factory(clis={"claude": claude, "codex": claude}))
        echo(proxy, "claude-opus")
        proxy.chat("gpt-5.5", "hello")
        wait_waiting(proxy, 3)
        wait_waiting(proxy, 3, cli="codex")
    pids = [pid for _, pid in proxy.spawned]
    assert len(pids) >= 8
    assert wait_gone(pids) == [], "CLI processes outlived the proxy"
