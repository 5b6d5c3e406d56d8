"""CLI proxy overhead: what the proxy adds over running the same (fake) CLI directly.

1. Added latency, non-streaming: the fake `claude` run directly (spawn, prompt on stdin, read to its result
   line) against the same request through the proxy over HTTP (spawn included on both sides); p50 and p99.
3. Warm workers: time to the first streamed token with a CLI double that takes 1.5 s to start before it reads
   stdin, through a proxy whose pool keeps one process waiting (warm) and through one without a pool (cold, what
   every request paid before warm workers); requests arrive after the pool has refilled.
2. First-delta delay, streaming: the fake prints its first delta with the wall-clock time in it; the delay is
   the time from that print to the client receiving the SSE chunk with it. Baseline: the same delay for a
   reader of the CLI's stdout pipe.

The proxy runs as its own process (uvicorn, one worker) with the fake CLIs from tests/cli_proxy/fakes.

    .venv/bin/python -m bench.cli_proxy [--repeats N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from cli_proxy.adapters.claude import HEADLESS_ARGS, user_message
from tests.support.proc_stats import rss_mib
from tests.support.processes import free_port, running

REPO = Path(__file__).resolve().parents[1]
FAKES = REPO / "tests" / "cli_proxy" / "fakes"
KEY = "bench-" + "key"
PROMPT_ANSWER = "Say hello"
PROMPT_STAMP = "Say hello SCENARIO=stamp"
START_S = 1.5  # the CLI double's start-up before it reads stdin (Claude Code takes about 2 s here)
# Exactly what the proxy runs for claude-opus, so that the baseline differs only by the proxy.
ARGV = [*HEADLESS_ARGS, "--model", "opus"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CLAUDE_CODE_OAUTH_TOKEN"] = "bench-" + "not-a-token"  # the fake's "logged in", passed by the allowlist
    return env


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def direct_run(prompt: str) -> tuple[float, float | None]:
    """(seconds to the result line, first-delta delay) for the fake CLI run directly."""
    start = time.perf_counter()
    first_delay = None
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen(
            [str(FAKES / "claude"), *ARGV],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            cwd=cwd,
            start_new_session=True,
        )
        assert proc.stdin and proc.stdout
        proc.stdin.write(user_message(prompt))
        proc.stdin.close()
        for line in proc.stdout:
            event = json.loads(line)
            delta = (event.get("event") or {}).get("delta") or {}
            if first_delay is None and delta.get("text", "").startswith("T="):
                first_delay = time.time() - float(delta["text"].split()[0][2:])
            if event.get("type") == "result":
                break
        elapsed = time.perf_counter() - start
        proc.wait()
    return elapsed, first_delay


def proxied_run(client: httpx.Client, prompt: str) -> tuple[float, float | None]:
    body = {"model": "claude-opus", "messages": [{"role": "user", "content": prompt}], "stream": True}
    start = time.perf_counter()
    first_delay = None
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first_delay is None and line.startswith("data: {"):
                content = json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                if content.startswith("T="):
                    first_delay = time.time() - float(content.split()[0][2:])
    return time.perf_counter() - start, first_delay


def proxied_full(client: httpx.Client, prompt: str) -> float:
    body = {"model": "claude-opus", "messages": [{"role": "user", "content": prompt}]}
    start = time.perf_counter()
    client.post("/v1/chat/completions", json=body).raise_for_status()
    return time.perf_counter() - start


def interleaved(
    runs: dict[str, Callable[[], tuple[float, float | None]]], repeats: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Each kind of run once per round, so that machine noise hits all of them alike (after a warm-up)."""
    for run in runs.values():
        run()
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            total, first = run()
            results[name][0].append(total)
            if first is not None:
                results[name][1].append(first)
    return results


def config_file(folder: Path, name: str = "cli-proxy", claude: dict | None = None, concurrency: int = 1) -> Path:
    data = {
        "search_path": [str(FAKES)],
        "use_system_path": False,
        "state_dir": str(folder / name / "state"),
        "defaults": {"concurrency": concurrency},
        "clis": {"claude": claude or {}},
        "models": {"claude-opus": {"cli": "claude", "model": "opus"}},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def memory(folder: Path, requests: int) -> None:
    """The proxy's resident memory (its CLI processes included) after start, after N and after 2N requests."""
    with proxy_process(folder, config_file(folder, "memory", concurrency=4)) as (client, pid):
        figures = [rss_mib(pid)]
        for _ in range(2):
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: proxied_full(client, PROMPT_ANSWER), range(requests)))
            figures.append(rss_mib(pid))
    start, after_n, after_2n = figures
    print(
        f"resident memory of the CLI proxy (MiB): after start {start:.1f}, after {requests:,} requests "
        f"{after_n:.1f}, after {2 * requests:,} {after_2n:.1f} (growth over the second {requests:,}: "
        f"{after_2n - after_n:+.1f} MiB)"
    )


@contextlib.contextmanager
def proxy_process(folder: Path, config: Path) -> Iterator[tuple[httpx.Client, int]]:
    """The proxy as its own process (uvicorn, one worker): a client for it, and its pid."""
    port = free_port()
    env = {**child_env(), "CLI_PROXY_CONFIG": str(config), "CLI_PROXY_API_KEY": KEY}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "cli_proxy.app:create_app", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    with (
        running(
            cmd, env=env, log_path=folder / f"{config.stem}.log", health_url=f"http://127.0.0.1:{port}/healthz"
        ) as proc,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        ) as client,
    ):
        yield client, proc.pid


def first_token(client: httpx.Client) -> float:
    body = {"model": "claude-opus", "messages": [{"role": "user", "content": PROMPT_ANSWER}], "stream": True}
    start = time.perf_counter()
    first = None
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if (
                first is None
                and line.startswith("data: {")
                and json.loads(line[6:])["choices"][0]["delta"].get("content")
            ):
                first = time.perf_counter() - start
    if first is None:
        raise RuntimeError("the stream carried no content")
    return first


def warm_versus_cold(folder: Path, repeats: int) -> None:
    slow = {"env": {"FAKE_CLI_START_S": str(START_S)}}
    warm_config = config_file(folder, "warm", {**slow, "warm_pool": {"size": 1, "idle_lifetime_s": 600}})
    cold_config = config_file(folder, "cold", {**slow, "warm_pool": {"size": 0}})
    with proxy_process(folder, warm_config) as (warm, _), proxy_process(folder, cold_config) as (cold, _):
        first_token(warm)  # a miss: the pool fills behind it
        times: dict[str, list[float]] = {"warm": [], "cold": []}
        for _ in range(repeats):
            time.sleep(START_S + 0.5)  # the next warm process has finished its start-up
            times["warm"].append(first_token(warm))
            times["cold"].append(first_token(cold))
        pool = dict(
            re.findall(r'cli_proxy_warm_pool_total\{cli="claude",outcome="(\w+)"\} (\S+)', warm.get("/metrics").text)
        )
    w50, c50 = statistics.median(times["warm"]), statistics.median(times["cold"])
    print(f"warm workers, a CLI double that starts in {START_S:g} s, {repeats} streamed requests each (pool: {pool})")
    for name in ("cold", "warm"):
        values = times[name]
        print(
            f"{'time to first token, ' + name + (' (before)' if name == 'cold' else ' (after)'):<44} "
            f"p50 {statistics.median(values) * 1000:8.1f} ms  p99 {percentile(values, 0.99) * 1000:8.1f} ms"
        )
    print(f"{'saved by a warm worker':<44} p50 {(c50 - w50) * 1000:8.1f} ms")


def report(name: str, values: list[float], baseline: list[float]) -> None:
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    b50, b99 = statistics.median(baseline), percentile(baseline, 0.99)
    print(
        f"{name:<44} p50 {p50 * 1000:8.2f} ms  p99 {p99 * 1000:8.2f} ms   "
        f"(direct p50 {b50 * 1000:7.2f} ms, p99 {b99 * 1000:7.2f} ms; ratio p50 {p50 / b50:5.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--warm-repeats", type=int, default=10)
    parser.add_argument("--memory-requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with proxy_process(folder, config_file(folder)) as (client, _):
            runs: dict[str, Callable[[], tuple[float, float | None]]] = {
                "direct": lambda: direct_run(PROMPT_ANSWER),
                "full": lambda: (proxied_full(client, PROMPT_ANSWER), None),
                "streamed": lambda: proxied_run(client, PROMPT_ANSWER),
                "direct_first": lambda: direct_run(PROMPT_STAMP),
                "proxy_first": lambda: proxied_run(client, PROMPT_STAMP),
            }
            results = interleaved(runs, args.repeats)
    direct, full, streamed = results["direct"][0], results["full"][0], results["streamed"][0]
    direct_first, proxy_first = results["direct_first"][1], results["proxy_first"][1]
    print(f"CLI proxy overhead, fake claude, {args.repeats} requests each, one at a time")
    report("whole request, non-streaming", full, direct)
    report("whole request, streaming", streamed, direct)
    for name, values in (("non-streaming", full), ("streaming", streamed)):
        added50 = statistics.median(values) - statistics.median(direct)
        added99 = percentile(values, 0.99) - percentile(direct, 0.99)
        print(f"{'added latency, ' + name:<44} p50 {added50 * 1000:8.2f} ms  p99 {added99 * 1000:8.2f} ms")
    report("first delta printed -> first SSE chunk", proxy_first, direct_first)
    with tempfile.TemporaryDirectory() as tmp:
        warm_versus_cold(Path(tmp), args.warm_repeats)
        memory(Path(tmp), args.memory_requests)


if __name__ == "__main__":
    main()
