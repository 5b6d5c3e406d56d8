"""A team on one box, as real processes: Redis (restartable, durable), the Ollama double (local tier), an OpenAI
double as the power tier, the tracker, and two gateway processes (`maximus serve litellm`) on the same Redis."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import REPO
from tests.support.stack import HttpDouble, LiteLLMProxy, litellm_proxy, ollama_double, openai_double
from tests.tracker.conftest import RedisProcess, TrackerProcess, wait_consumed

MASTER_KEY = "sk-team-" + "M4ster" * 4
# Every power answer reports this usage: 11 * 3e-6 + 5 * 15e-6 = 1.08e-4 USD at max-genius's list price.
POWER_USAGE = (11, 5)
POWER_COST_USD = 11 * 3e-6 + 5 * 15e-6


@dataclass
class Team:
    workdir: Path
    redis: RedisProcess
    tracker: TrackerProcess
    gateways: list[LiteLLMProxy]
    ollama: HttpDouble
    power: HttpDouble

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`maximus keys ...` against this stack's Redis, as the operator runs it."""
        env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "MAXIMUS_REDIS_URL": "",
            "MAXIMUS_ENV_FILE": str(self.workdir / "absent.env"),
        }
        cmd = [sys.executable, "-m", "maximus.cli", "keys", *args]
        return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)

    def create_key(self, name: str, *options: str) -> str:
        done = self.keys("create", name, *options)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def wait_consumed(self) -> None:
        wait_consumed(self.redis.url)

    def person(self, name: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.tracker.base_url}/stats",
            params={"user": name},
            headers={"Authorization": f"Bearer {self.tracker.env['TRACKER_API_KEY']}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


def chat(gateway: LiteLLMProxy, key: str, tier: str | None = None, text: str = "hello") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if tier:
        headers["x-maximus-tier"] = tier
    body = {"model": "max-auto", "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{gateway.openai_base_url}/chat/completions", json=body, headers=headers, timeout=60)


def until(check: Callable[[], Any], timeout: float = 60.0, step: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; its last value otherwise (the assertion says what)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def _tracker(redis: RedisProcess, workdir: Path) -> TrackerProcess:
    tracker = TrackerProcess(redis.url, workdir / "tracker")
    # The shipped tracker and LiteLLM configs: max-genius is priced as it ships (LiteLLM's list price).
    tracker.env["TRACKER_CONFIG"] = str(REPO / "services" / "tracker" / "tracker" / "tracker.yaml")
    tracker.env["MAXIMUS_LITELLM_CONFIG"] = str(REPO / "litellm" / "config.yaml")
    return tracker


@contextlib.contextmanager
def team_stack(workdir: Path, gateways: int = 2) -> Iterator[Team]:
    redis = RedisProcess(workdir / "redis", persistent=True)
    redis.start()
    tracker = _tracker(redis, workdir)
    try:
        tracker.start()
        with contextlib.ExitStack() as stack:
            ollama = stack.enter_context(ollama_double(workdir))
            power = stack.enter_context(openai_double(workdir, "power", usage=POWER_USAGE))
            backends = {
                "OLLAMA_API_BASE": ollama.base_url,
                "CLI_PROXY_API_BASE": power.base_url,
                "REDIS_URL": redis.url,
                "MAXIMUS_MONTHLY_BUDGET_USD": "20",
            }
            proxies = [stack.enter_context(litellm_proxy(workdir, backends, MASTER_KEY)) for _ in range(gateways)]
            yield Team(workdir, redis, tracker, proxies, ollama, power)
    finally:
        tracker.stop()
        redis.stop()
