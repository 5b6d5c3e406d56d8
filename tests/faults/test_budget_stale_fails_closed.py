"""The budget guard through the real proxy with a real Redis that is killed on purpose (router.budget):

with a monthly cap set, the last spend figure read from Redis is used while it is younger than
budget.max_staleness_s; once it is older (Redis down), non-local tiers are disabled with the reason stated and
escalated requests are answered by the local tier (a 200, not an error); once Redis is back, escalation returns
within a refresh period. A spend above the cap sends the same requests local too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import time
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
from tests.support.processes import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BUDGET_USD = 5.0
SPENT_USD = 1.0  # below the cap and below its warning ratio: no budget reason at all while fresh
MAX_STALENESS_S = 4.0
REFRESH_S = 0.5
RECOVERY_WITHIN_S = 10.0  # a refresh period plus the Redis client's reconnect backoff (at most 1 s a try)
GENIUS = "hello there"  # asked of max-genius: the explicit power choice
AUTO = fakes.HARD_PROMPT  # asked of max-auto: a need score above the threshold, escalated to power
STALE_AGE = re.compile(r"the last spend figure for (\d+) s")


@pytest.fixture(scope="module")
def routing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped routing.yaml with a cap and the staleness window and refresh period shortened."""
    raw = yaml.safe_load(default_config_path().read_text())
    raw["budget"].update({"monthly_usd": BUDGET_USD, "max_staleness_s": MAX_STALENESS_S, "refresh_s": REFRESH_S})
    path = tmp_path_factory.mktemp("budget-stale") / "routing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@contextlib.contextmanager
def _redis(workdir: Path, port: int) -> Iterator[subprocess.Popen]:
    server = stack.RedisServer(port, workdir / f"redis-{port}")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    with running(server.command(), log_path=server.data_dir / "redis.log", port=port) as proc:
        yield proc


def _kill(proc: subprocess.Popen) -> float:
    """Redis dies at once (SIGKILL, no shutdown); returns when, on the monotonic clock."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
    return time.monotonic()


def _set_spend(port: int, usd: float) -> None:
    key = f"maximus:month:{dt.datetime.now(dt.UTC):%Y-%m}"  # the tracker's durable month totals
    redis.Redis(port=port).hset(key, "cost_usd", str(usd))


def _ask(proxy: stack.LiteLLMProxy, model: str, text: str) -> httpx.Response:
    body = fakes.ask(text, model=model)
    return httpx.post(f"{proxy.openai_base_url}/chat/completions", json=body, headers=proxy.headers(), timeout=60)


def _reached(double: stack.HttpDouble, text: str) -> bool:
    return any(text in str(r) for r in double.requests() if not str(r.get("path", "")).startswith("/_double"))


def _routed(proxy: stack.LiteLLMProxy, doubles: dict[str, stack.HttpDouble], model: str, text: str) -> dict[str, Any]:
    """One request: its status, tier and reason, and which double answered it."""
    for double in doubles.values():
        double.clear()
    response = _ask(proxy, model, text)
    assert response.status_code == 200, response.text
    return {
        "tier": response.headers["x-maximus-tier"],
        "reason": response.headers["x-maximus-route-reason"],
        "power": _reached(doubles["power"], text),
        "local": _reached(doubles["local"], text),
    }


def _assert_escalated(route: dict[str, Any]) -> None:
    assert route["tier"] == "power", route
    assert route["power"] and not route["local"], route
    assert "budget" not in route["reason"], route


def _assert_kept_local(route: dict[str, Any], why: str) -> None:
    assert route["tier"] == "local", route
    assert route["local"] and not route["power"], route
    assert why in route["reason"], route


def test_stale_spend_sends_escalations_local_until_redis_is_back(workdir, ollama_double, routing) -> None:
    port = free_port()
    with stack.openai_double(workdir, "cli-budget") as power:
        doubles = {"power": power, "local": ollama_double}
        with _redis(workdir, port) as redis_proc:
            _set_spend(port, SPENT_USD)
            backends = {
                "OLLAMA_API_BASE": ollama_double.base_url,
                "CLI_PROXY_API_BASE": power.base_url,
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "MAXIMUS_ROUTING_CONFIG": str(routing),
            }
            with stack.litellm_proxy(workdir, backends) as proxy:
                # 1. Redis up, spend below the cap: both escalations reach the power tier.
                for model, text in (("max-genius", GENIUS), ("max-auto", AUTO)):
                    _assert_escalated(_routed(proxy, doubles, model, text))

                # 2. Redis killed: within the window the last known figure still lets them escalate.
                killed_at = _kill(redis_proc)
                for model, text in (("max-genius", GENIUS), ("max-auto", AUTO)):
                    _assert_escalated(_routed(proxy, doubles, model, text))
                within_s = time.monotonic() - killed_at
                print(f"escalated for {within_s:.2f} s after Redis was killed")
                assert within_s < MAX_STALENESS_S - REFRESH_S, "too slow to test inside the window"

                # 3. Past the window (the last read came before the kill): local, a 200, the reason stated.
                time.sleep(max(0.0, killed_at + MAX_STALENESS_S + 0.2 - time.monotonic()))
                for model, text, label in (
                    ("max-genius", GENIUS, "budget cap: explicit non-local choice sent local"),
                    ("max-auto", AUTO, "power tier disabled: budget spend too old: skipped to local"),
                ):
                    route = _routed(proxy, doubles, model, text)
                    _assert_kept_local(route, "non-local tiers disabled until the tracker's totals are read again")
                    assert label in route["reason"], route
                    assert int(STALE_AGE.search(route["reason"]).group(1)) >= MAX_STALENESS_S, route

                # 4. Redis back on the same port (empty: nothing spent yet): escalation returns after a refresh.
                with _redis(workdir, port):
                    back_at = time.monotonic()
                    while (route := _routed(proxy, doubles, "max-genius", GENIUS))["tier"] != "power":
                        _assert_kept_local(route, "spend figure")
                        assert time.monotonic() - back_at < RECOVERY_WITHIN_S, route
                        time.sleep(REFRESH_S / 2)
                    print(f"escalating again {time.monotonic() - back_at:.2f} s after Redis came back")
                    _assert_escalated(route)
                    _assert_escalated(_routed(proxy, doubles, "max-auto", AUTO))

                    # The spend over the cap, read at the next refresh: the same requests go local.
                    _set_spend(port, BUDGET_USD + 1)
                    over_at = time.monotonic()
                    while (route := _routed(proxy, doubles, "max-auto", AUTO))["tier"] == "power":
                        assert time.monotonic() - over_at < RECOVERY_WITHIN_S, route
                        time.sleep(REFRESH_S / 2)
                    _assert_kept_local(route, f"reached the ${BUDGET_USD:.2f} cap")
                    assert "power tier over budget: skipped to local" in route["reason"], route
                    route = _routed(proxy, doubles, "max-genius", GENIUS)
                    _assert_kept_local(route, "budget cap: explicit non-local choice sent local")
