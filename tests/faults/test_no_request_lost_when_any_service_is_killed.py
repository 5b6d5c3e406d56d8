"""Chaos, natively: the whole stack under `maximus up` (supervisord) with the Ollama double, steady load from
clients that retry like the OpenAI SDK (a third streamed), and every service SIGKILLed in turn: tracker, Redis,
CLI proxy, one gateway process, vision, Prometheus. Checks: 0 failed requests, the tracker's count equal to the
answers, Prometheus's increase() of the tracker's counter equal to them too, and every service back.

One failure is not the gateway's to prevent: a stream under way in a process that is SIGKILLed is cut, and no SDK
retries a stream that has begun. Such a cut is allowed only at a gateway kill (within CUT_WITHIN_S), at most one
per client; it is not an answer, and it must not be counted as one.

Two rounds by default (about 3 minutes with start-up), so that each gateway process is killed once, the one that
holds the clients' kept-alive connections included; MAXIMUS_SOAK_S=<seconds> keeps killing in rounds that long.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from maximus.environment import GENERATED_KEYS, derived_defaults
from maximus.native import program_serves
from maximus.stack import service_of_program, services
from maximus.supervisor import SupervisorPaths, history, processes
from tests.faults.sdk_load import run_clients
from tests.support import stack
from tests.support.processes import REPO, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.timeout(900),
]
MAXIMUS = [sys.executable, "-m", "maximus.cli"]
KILL_ORDER = ("tracker", "redis", "cli-proxy", "litellm", "vision", "prometheus")
CLIENTS = 4
ROUNDS = 2
CUT_WITHIN_S = 2.0
BETWEEN_KILLS_S = 4.0  # of load with every service up, between one service back and the next kill
BACK_WITHIN_S = 120.0
SETTLED_WITHIN_S = 90.0
SCRAPE_S = 15  # prometheus/prometheus.yml's scrape_interval, which native mode keeps


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private run directory and ports; Redis, Prometheus and every service started by `maximus up`."""
    home = tmp_path_factory.mktemp("chaos")
    with stack.ollama_double(home) as ollama:
        stack_vars = {*GENERATED_KEYS, *derived_defaults({}), "MAXIMUS_HOME"}
        env = {k: v for k, v in os.environ.items() if k not in stack_vars}
        env |= {spec.port_env: str(free_port()) for spec in services().values()}
        env |= {
            "MAXIMUS_RUN_DIR": str(home / "run"),
            "MAXIMUS_ENV_FILE": str(home / ".env"),
            "OLLAMA_PORT": str(ollama.port),
            "VISION_MODEL_DIR": str(home / "no-weights-here"),
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        try:
            up = maximus(env, "up", "--mode", "native")
            assert up.returncode == 0, up.stdout + up.stderr
            yield env
        finally:
            maximus(env, "down")


def maximus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MAXIMUS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def _programs(env: dict[str, str]) -> dict[str, dict]:
    return processes(SupervisorPaths(Path(env["MAXIMUS_RUN_DIR"])))


def _back(env: dict[str, str], program: str, info: dict) -> bool:
    """Running and answering; one of several gateway processes must listen on the port itself."""
    return info.get("statename") == "RUNNING" and program_serves(program, env, info.get("pid"))


def _wait_all_back(env: dict[str, str], timeout: float = BACK_WITHIN_S) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        programs = _programs(env)
        down = [name for name, info in programs.items() if not _back(env, name, info)]
        if programs and not down:
            return programs
        if time.monotonic() > deadline:
            raise AssertionError(f"not back within {timeout:.0f} s: {down}")
        time.sleep(0.25)


def _victims(programs: dict[str, dict], round_: int) -> list[str]:
    """One program per service of KILL_ORDER (of several gateway processes, a different one each round)."""
    chosen = []
    for service in KILL_ORDER:
        names = sorted(name for name in programs if service_of_program(name) == service)
        if names:
            chosen.append(names[round_ % len(names)])
    return chosen


async def _kill_in_turn(env: dict[str, str], rounds_until: float, killed: list[tuple[str, float]]) -> None:
    round_ = 0
    while round_ < ROUNDS or time.monotonic() < rounds_until:
        for program in _victims(_programs(env), round_):
            await asyncio.to_thread(_wait_all_back, env)
            await asyncio.sleep(BETWEEN_KILLS_S)
            os.kill(_programs(env)[program]["pid"], signal.SIGKILL)
            killed.append((program, time.time()))
            print(f"{time.strftime('%H:%M:%S')} SIGKILL {program}")
        round_ += 1
    await asyncio.to_thread(_wait_all_back, env)
    await asyncio.sleep(BETWEEN_KILLS_S)


def _key(env: dict[str, str], name: str) -> str:
    return dotenv_values(env["MAXIMUS_ENV_FILE"])[name]


def _tracker_requests(env: dict[str, str]) -> int:
    url = f"http://127.0.0.1:{env['TRACKER_PORT']}/stats"
    headers = {"Authorization": f"Bearer {_key(env, 'TRACKER_API_KEY')}"}
    return int(httpx.get(url, headers=headers, timeout=10).json()["requests"])


def _settled_count(env: dict[str, str], expected: int) -> int:
    """The tracker's count once it reaches `expected` or stops moving (spooled events replay within seconds)."""
    deadline, count = time.monotonic() + SETTLED_WITHIN_S, -1
    while time.monotonic() < deadline:
        count = _tracker_requests(env)
        if count == expected:
            return count
        time.sleep(0.5)
    return count


def _prometheus(env: dict[str, str], promql: str, at: float | None = None) -> list[dict]:
    params = {"query": promql} | ({"time": f"{at:.3f}"} if at else {})
    body = httpx.get(f"http://127.0.0.1:{env['PROMETHEUS_PORT']}/api/v1/query", params=params, timeout=10).json()
    assert body.get("status") == "success", body
    return body["data"]["result"]


def _scrape_after(env: dict[str, str], moment: float) -> float:
    """The time of the tracker's first successful scrape after `moment`. (`timestamp()` of a selector is its
    sample's time; of an expression such as `up == 1` it would be the query's own time.)"""
    deadline = time.monotonic() + 4 * SCRAPE_S
    while time.monotonic() < deadline:
        samples = _prometheus(env, 'timestamp(up{job="tracker"})')
        scraped = _prometheus(env, 'up{job="tracker"}')
        if samples and scraped and scraped[0]["value"][1] == "1" and float(samples[0]["value"][1]) > moment:
            return float(samples[0]["value"][1])
        time.sleep(0.5)
    raise AssertionError("Prometheus did not scrape the tracker again")


def test_every_request_answered_and_counted_once_while_each_service_is_killed(stack_env: dict[str, str]) -> None:
    env = stack_env
    started = _wait_all_back(env)
    assert sum(service_of_program(name) == "litellm" for name in started) >= 2, "the gateway runs several processes"
    # A sample of the counter before the first request: increase() over the run then needs no extrapolation.
    run_start = _scrape_after(env, time.time())
    base_url = f"http://127.0.0.1:{env['LITELLM_PORT']}/v1"
    killed: list[tuple[str, float]] = []

    async def chaos():
        stop = asyncio.Event()
        clients = asyncio.create_task(run_clients(base_url, _key(env, "MAXIMUS_MASTER_KEY"), CLIENTS, stop))
        try:
            await _kill_in_turn(env, time.monotonic() + float(os.environ.get("MAXIMUS_SOAK_S") or 0), killed)
        finally:
            stop.set()
        return await clients

    load = asyncio.run(chaos())
    print(f"killed in turn: {[name for name, _ in killed]}")
    assert {service_of_program(name) for name, _ in killed} == set(KILL_ORDER)
    assert load.failed == 0, load.summary()
    gateway_kills = [at for name, at in killed if service_of_program(name) == "litellm"]
    for cut in load.cut_streams:
        assert any(0 <= cut - at <= CUT_WITHIN_S for at in gateway_kills), f"a stream cut with no gateway kill: {cut}"
    assert len(load.cut_streams) <= CLIENTS * len(gateway_kills), load.summary()
    for program in {name for name, _ in killed if service_of_program(name) == "litellm"}:
        # A kill between two requests costs no retry (a pooled connection the server closed is dropped
        # before use), so that figure may be 0; what must hold is that each killed process carried traffic.
        log = Path(env["MAXIMUS_RUN_DIR"], "logs", f"{program}.log").read_text(errors="replace")
        assert "POST /v1/chat/completions" in log, f"{program} never answered: its kill proved nothing"

    counted = _settled_count(env, load.answered)
    print(f"tracker counted {counted} of {load.answered} answers")
    assert counted == load.answered

    end = _scrape_after(env, time.time())
    window = math.ceil(end - run_start) + 2 * SCRAPE_S  # from before the first answer: the counter starts at 0
    promql = f'sum(increase(maximus_requests_total{{outcome="success"}}[{window}s]))'
    increase = float(_prometheus(env, promql, at=end)[0]["value"][1])
    print(f"Prometheus increase(): {increase}")
    assert round(increase, 6) == load.answered

    back = _wait_all_back(env)
    restarts = history(SupervisorPaths(Path(env["MAXIMUS_RUN_DIR"])))
    for program in {name for name, _ in killed}:
        assert restarts[program].restarts >= 1 and "SIGKILL" in (restarts[program].last_exit or ""), program
    assert set(back) >= {name for name, _ in killed}
