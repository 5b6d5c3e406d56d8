"""The gateway as users see it: what Maximus adds to bare LiteLLM, and each service's memory under load.

Proxies of the same pinned LiteLLM, started the same way (`maximus serve litellm`'s environment:
LITELLM_LOCAL_MODEL_COST_MAP, LITELLM_MODE=PRODUCTION, one worker), all answering `max-auto` from one Ollama
double:
- bare: the baseline. One deployment (the local chat model, zero prices), the master key, no callbacks and no
  other setting: what a user would run without Maximus;
- shipped deployment (`--shipped-arm`): LiteLLM alone with the shipped max-auto deployment as it is (its
  model_info, retries and cooldown settings), to tell what the deployment's own settings cost;
- maximus: the shipped litellm/config.yaml rendered by `maximus serve litellm` (edge, custom auth, routing hook,
  tracker callback, Prometheus callback, Redis for shared cooldowns), with the stack's Redis and the tracker.
Rounds are interleaved (the arms' order rotates), so machine noise hits every arm alike. Per arm: sequential
latency p50/p99 (non-streaming), throughput at concurrency 16, time to the first streamed content chunk; the
figures are read against bare LiteLLM of the same run (targets: at most 1 ms added at p50, at least 90% of its
throughput). Memory: resident set of every service after start, after N and after 2N requests to each gateway.

    .venv/bin/python -m bench.gateway [--rounds R] [--sequential N] [--burst N] [--streams N] [--shipped-arm]
                                      [--memory-requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import yaml

from maximus import litellm_config
from tests.support.proc_stats import cpu_seconds, rss_mib
from tests.support.processes import VENV_BIN, free_port, running, workdir
from tests.support.stack import litellm_proxy, ollama_double
from tests.tracker.conftest import RedisProcess, TrackerProcess

MASTER_KEY = "sk-bench-" + "gateway"
BODY = {"model": "max-auto", "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
CONCURRENCY = 16
OWN_PARTS = ("auth", "routing hook", "response headers", "tracker callback")
ADDED_P50_TARGET_MS = 1.0
THROUGHPUT_TARGET = 0.90
NO_HOLD = {"MAXIMUS_EVENT_WAIT_S": "0"}
MAXIMUS_ARM = "Maximus gateway"


@dataclass
class Arm:
    name: str
    base_url: str
    pid: int
    sequential: list[float] = field(default_factory=list)
    first_chunk: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)  # the sequential p50 of each round
    requests: int = 0
    cpu_s: float = 0.0  # the proxy's CPU time over the sequential blocks (background logging included)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def bare_config(folder: Path, ollama_base: str) -> Path:
    """Bare LiteLLM: max-auto as one deployment of the local chat model with zero prices, the master key, nothing
    else (no callbacks, no router or LiteLLM settings).

    Read its figures knowing one LiteLLM behaviour: with a single deployment of a model that its price table lacks
    (ollama_chat/gemma3), Router.get_router_model_info raises ModelNotMappedError on every request, and an
    exception is not kept by get_model_info's cache: ~0.6-1 ms per request (py-spy). The shipped config has two
    deployments of the chat model (max-auto, max-buddy), which map it, so Maximus does not pay this."""
    model = shipped_deployment(ollama_base)["litellm_params"]["model"]
    deployment = {
        "model_name": "max-auto",
        "litellm_params": {"model": model, "api_base": ollama_base},
        "model_info": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
    }
    return _write_config(folder / "bare-litellm.yaml", deployment)


def shipped_config(folder: Path, ollama_base: str) -> Path:
    """The shipped max-auto deployment (same model, address, prices and settings), LiteLLM's own master-key auth,
    nothing else."""
    return _write_config(folder / "shipped-deployment.yaml", shipped_deployment(ollama_base))


def shipped_deployment(ollama_base: str) -> dict[str, Any]:
    rendered = litellm_config.render({"OLLAMA_API_BASE": ollama_base})
    deployment = next(entry for entry in rendered["model_list"] if entry["model_name"] == "max-auto")
    deployment["litellm_params"]["api_base"] = ollama_base
    return deployment


def _write_config(path: Path, deployment: dict[str, Any]) -> Path:
    config = {"model_list": [deployment], "general_settings": {"master_key": "os.environ/MAXIMUS_MASTER_KEY"}}
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def plain_litellm(folder: Path, name: str, config: Path) -> Iterator[Arm]:
    """LiteLLM alone, started with exactly the environment `maximus serve litellm` adds (see maximus/serve.py)."""
    port = free_port()
    env = {"MAXIMUS_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"}
    cmd = [str(VENV_BIN / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    health = f"http://127.0.0.1:{port}/health/liveliness"
    log_path = folder / f"{config.stem}.log"
    with running(cmd, env=env, log_path=log_path, health_url=health, timeout=180, cwd=folder) as proc:
        yield Arm(name, f"http://127.0.0.1:{port}", proc.pid)


@contextlib.contextmanager
def maximus_gateway(
    folder: Path, ollama_base: str, redis_url: str, name: str = MAXIMUS_ARM, **settings: str
) -> Iterator[Arm]:
    backends = {"OLLAMA_API_BASE": ollama_base, "REDIS_URL": redis_url, "MAXIMUS_SPOOL_DIR": str(folder / "spool")}
    with litellm_proxy(folder, backends | settings, master_key=MASTER_KEY) as proxy:
        pid = int(proxy_pid(proxy.port))
        yield Arm(name, proxy.base_url, pid)


def proxy_pid(port: int) -> str:
    """The pid listening on `port` (maximus serve execs LiteLLM, so it is the pid `running` started)."""
    inode = next(
        line.split()[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    )
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if fd.readlink().name == f"socket:[{inode}]":
                return fd.parts[2]
    raise RuntimeError(f"no process found listening on port {port}")


def sequential(client: httpx.Client, arm: Arm, n: int) -> None:
    for _ in range(n):
        started = time.perf_counter()
        response = client.post(f"{arm.base_url}/v1/chat/completions", json=BODY)
        arm.sequential.append(time.perf_counter() - started)
        response.raise_for_status()
    arm.requests += n


def first_chunks(client: httpx.Client, arm: Arm, n: int) -> None:
    for _ in range(n):
        started, first = time.perf_counter(), None
        with client.stream("POST", f"{arm.base_url}/v1/chat/completions", json={**BODY, "stream": True}) as reply:
            reply.raise_for_status()
            for line in reply.iter_lines():
                data = json.loads(line[6:]) if first is None and line.startswith("data: {") else None
                if data and data["choices"] and data["choices"][0]["delta"].get("content"):
                    first = time.perf_counter() - started
        if first is None:
            raise RuntimeError(f"{arm.name}: the stream carried no content")
        arm.first_chunk.append(first)
    arm.requests += n


async def _burst(base_url: str, total: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:
        remaining = iter(range(total))

        async def worker() -> None:
            for _ in remaining:
                (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


def burst(arm: Arm, total: int) -> None:
    arm.rates.append(asyncio.run(_burst(arm.base_url, total, CONCURRENCY)))
    arm.requests += total


def load(arm: Arm, requests: int) -> None:
    """`requests` more at concurrency 16 (for the memory figures)."""
    asyncio.run(_burst(arm.base_url, requests, CONCURRENCY))
    arm.requests += requests


def own_code(requests: int, redis_url: str) -> dict[str, float]:
    """Thread CPU time (us, median) of each Maximus part per request, called in-process as the proxy calls them:
    less sensitive to a busy machine than the end-to-end figures above."""
    from maximus.litellm_auth import master_key_auth
    from router.litellm_hook import RoutingHook
    from tests.tracker.shapes import attempt_kwargs
    from tracker.litellm_callback import SovereigntyEventPublisher
    from tracker.publisher import EventPublisher

    # The bench's Redis (never the stack's on 6379): the guards read it, the publisher writes its own stream.
    env = {"MAXIMUS_REDIS_URL": redis_url, "MAXIMUS_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with mock.patch.dict(os.environ, env), tempfile.TemporaryDirectory() as spool:
        hook = RoutingHook()
        callback = SovereigntyEventPublisher(EventPublisher(redis_url, "bench:own-code", Path(spool)))
        headers = {"authorization": "Bearer x", "content-type": "application/json", "user-agent": "bench"}

        async def one(i: int, costs: dict[str, list[int]]) -> None:
            data = {**BODY, "metadata": {"headers": headers}, "proxy_server_request": {"headers": headers}}
            parts = (
                ("auth", master_key_auth(None, MASTER_KEY)),  # type: ignore[arg-type]
                ("routing hook", hook.async_pre_call_hook(None, None, data, "acompletion")),
                ("response headers", hook.async_post_call_response_headers_hook(data, None, None)),
                (
                    "tracker callback",
                    callback.async_log_success_event(attempt_kwargs(f"c{i}", "max-buddy", "local"), None, 0, 0),
                ),
            )
            for name, call in parts:
                started = time.thread_time_ns()
                await call
                costs[name].append(time.thread_time_ns() - started)

        async def run() -> dict[str, list[int]]:
            costs: dict[str, list[int]] = {name: [] for name in OWN_PARTS}
            for i in range(requests + 20):
                await one(i, costs)
                await asyncio.sleep(0)  # background work (the publisher) runs here, outside the timed calls
            await callback.publisher.drain(10)
            await callback.publisher.close()
            return {name: values[20:] for name, values in costs.items()}  # the first calls load state

        costs = asyncio.run(run())
    return {name: statistics.median(values) / 1000 for name, values in costs.items()}


def report_own_code(costs: dict[str, float], requests: int) -> None:
    parts = ", ".join(f"{name} {value:.0f}" for name, value in costs.items())
    print(f"Maximus's own code per request, in-process, thread CPU p50 over {requests:,} calls (us): {parts}; ", end="")
    print(f"total {sum(costs.values()):.0f} us")


def interleaved_round(client: httpx.Client, arms: list[Arm], args: argparse.Namespace) -> None:
    """Sequential and streamed requests alternate between the arms one by one, so that a burst of load from
    elsewhere hits all of them; the CPU time is each proxy's own over the whole sequential block."""
    used = [cpu_seconds(arm.pid) for arm in arms]
    marks = [len(arm.sequential) for arm in arms]
    for _ in range(args.sequential):
        for arm in arms:
            sequential(client, arm, 1)
    for arm, before, mark in zip(arms, used, marks, strict=True):
        arm.cpu_s += cpu_seconds(arm.pid) - before
        arm.round_p50.append(statistics.median(arm.sequential[mark:]))
    for arm in arms:
        burst(arm, args.burst)
    for _ in range(args.streams):
        for arm in arms:
            first_chunks(client, arm, 1)


def report_latency(base: Arm, others: list[Arm]) -> None:
    """Every arm beside bare LiteLLM; `added` is against bare LiteLLM of the same run."""
    arms = [base, *others]
    print(f"{'':<36}" + "".join(f"{arm.name:>22}" for arm in arms))

    def row(label: str, values: list[float], unit: str = "ms") -> None:
        cells = f"{values[0]:22.2f}" + "".join(f"{v:12.2f} ({v - values[0]:+6.2f})" for v in values[1:])
        print(f"{label:<36}{cells}   {unit}, (added)")

    for name, q in (("p50", 0.5), ("p99", 0.99)):
        row(f"sequential latency {name}", [percentile(arm.sequential, q) * 1000 for arm in arms])
    row("time to first chunk p50", [statistics.median(arm.first_chunk) * 1000 for arm in arms])
    row("proxy CPU per request", [arm.cpu_s / max(1, len(arm.sequential)) * 1000 for arm in arms])
    rates = [statistics.median(arm.rates) for arm in arms]
    cells = f"{rates[0]:22.1f}" + "".join(f"{r:12.1f} ({r / rates[0]:6.1%})" for r in rates[1:])
    print(f"{'throughput, concurrency ' + str(CONCURRENCY):<36}{cells}   req/s, (ratio)")
    full = next(arm for arm in others if arm.name == MAXIMUS_ARM)
    before, after = percentile(base.sequential, 0.5) * 1000, percentile(full.sequential, 0.5) * 1000
    per_round = sorted((f - b) * 1000 for f, b in zip(full.round_p50, base.round_p50, strict=True))
    ratio = statistics.median(full.rates) / rates[0]
    added_met = _verdict(after - before <= ADDED_P50_TARGET_MS)
    print(
        f"Maximus adds {after - before:+.2f} ms at p50 against bare LiteLLM: {before:.2f} ms bare (before) -> "
        f"{after:.2f} ms Maximus (after) (target <= {ADDED_P50_TARGET_MS:g} ms: {added_met}; "
        f"per round {per_round[0]:+.2f} .. {per_round[-1]:+.2f}, median {statistics.median(per_round):+.2f})"
    )
    print(
        f"and keeps {ratio:.0%} of its throughput at concurrency {CONCURRENCY}: {rates[0]:.1f} req/s bare (before) -> "
        f"{statistics.median(full.rates):.1f} req/s Maximus (after) (target >= {THROUGHPUT_TARGET:.0%}: "
        f"{_verdict(ratio >= THROUGHPUT_TARGET)}; per round {_round_ratios(full, base)}); machine load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    unheld = next((arm for arm in others if arm.name != MAXIMUS_ARM and arm.name.startswith("Maximus")), None)
    if unheld is not None:
        _report_hold(full, unheld)


def _report_hold(held: Arm, unheld: Arm) -> None:
    """What waiting for each answer's event (maximus.event_hold) costs: the same gateway with the hold off."""
    cost = {q: (percentile(held.sequential, q) - percentile(unheld.sequential, q)) * 1000 for q in (0.5, 0.99)}
    first = (statistics.median(held.first_chunk) - statistics.median(unheld.first_chunk)) * 1000
    rate = statistics.median(held.rates) / statistics.median(unheld.rates)
    print(
        f"the event hold (an answer's end waits for its event on disk) costs {cost[0.5]:+.2f} ms at p50, "
        f"{cost[0.99]:+.2f} ms at p99, {first:+.2f} ms to the first chunk and keeps {rate:.0%} of the throughput "
        "(against the same gateway with MAXIMUS_EVENT_WAIT_S=0)"
    )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _round_ratios(arm: Arm, base: Arm) -> str:
    ratios = sorted(a / b for a, b in zip(arm.rates, base.rates, strict=True))
    return f"{ratios[0]:.0%} .. {ratios[-1]:.0%}, median {statistics.median(ratios):.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sequential", type=int, default=40, help="sequential requests per arm and round")
    parser.add_argument("--burst", type=int, default=160, help="requests per arm and round at concurrency 16")
    parser.add_argument("--streams", type=int, default=15, help="streamed requests per arm and round")
    parser.add_argument("--shipped-arm", action="store_true", help="also LiteLLM alone with the shipped deployment")
    parser.add_argument(
        "--no-hold-arm", action="store_true", help="leave out Maximus without its event hold (what the hold costs)"
    )
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--own-requests", type=int, default=2000, help="in-process calls of each Maximus part")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep the services' logs there")
    args = parser.parse_args()
    with workdir(args.keep, "bench-gateway-") as folder, contextlib.ExitStack() as stack:
        redis_server = RedisProcess(folder / "redis")
        redis_server.start()
        stack.callback(redis_server.stop)
        tracker = TrackerProcess(redis_server.url, folder / "tracker")
        tracker.start()
        stack.callback(tracker.stop)
        double = stack.enter_context(ollama_double(folder))
        arms = [stack.enter_context(plain_litellm(folder, "bare LiteLLM", bare_config(folder, double.base_url)))]
        if args.shipped_arm:
            config = shipped_config(folder, double.base_url)
            arms.append(stack.enter_context(plain_litellm(folder, "shipped deployment", config)))
        arms.append(stack.enter_context(maximus_gateway(folder, double.base_url, redis_server.url)))
        if not args.no_hold_arm:  # answers leave without waiting for their event to be journaled (maximus.event_hold)
            unheld = maximus_gateway(folder, double.base_url, redis_server.url, "Maximus, hold off", **NO_HOLD)
            arms.append(stack.enter_context(unheld))
        services = {
            **{arm.name: arm.pid for arm in arms},
            "tracker": tracker.proc.pid if tracker.proc else 0,
            "redis": redis_server.proc.pid if redis_server.proc else 0,
        }
        memory = {name: [rss_mib(pid)] for name, pid in services.items()}
        client = stack.enter_context(httpx.Client(headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=60))
        for arm in arms:  # warm-up: imports, connection pools, the hook's first-request state
            sequential(client, arm, 10)
            first_chunks(client, arm, 2)
            arm.sequential.clear(), arm.first_chunk.clear()
        for round_no in range(args.rounds):
            shift = round_no % len(arms)  # each arm goes first in turn
            interleaved_round(client, arms[shift:] + arms[:shift], args)
        print(
            f"gateway, max-auto from one Ollama double: {args.rounds} interleaved rounds of {args.sequential} "
            f"sequential, {args.burst} at concurrency {CONCURRENCY} and {args.streams} streamed requests per arm"
        )
        report_latency(arms[0], arms[1:])
        report_own_code(own_code(args.own_requests, redis_server.url), args.own_requests)
        counts = [0, min(arm.requests for arm in arms)]
        memory_after(memory, services)  # after the measured rounds (and their warm-up)
        for arm in arms:
            load(arm, args.memory_requests)
        counts.append(counts[1] + args.memory_requests)
        memory_after(memory, services)
        report_memory(memory, counts)


def memory_after(memory: dict[str, list[float]], services: dict[str, int]) -> None:
    for name, pid in services.items():
        memory[name].append(rss_mib(pid))


def report_memory(memory: dict[str, list[float]], counts: list[int]) -> None:
    """RSS after start, after the rounds and after `--memory-requests` more: the last growth shows a leak."""
    print("resident memory (MiB, process and children), after " + ", ".join(f"{n:,}" for n in counts) + " requests")
    for name, figures in memory.items():
        cells = "".join(f"{value:10.1f}" for value in figures)
        print(
            f"  {name:<18}{cells}   growth over the last {counts[2] - counts[1]:,}: {figures[2] - figures[1]:+.1f} MiB"
        )


if __name__ == "__main__":
    main()
