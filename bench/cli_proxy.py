"""CLI proxy overhead: what the proxy adds over running the same (fake) CLI directly.

1. Added latency, non-streaming: the fake `claude` run directly (spawn, prompt on stdin, read to its result
   line) against the same request through the proxy over HTTP (spawn included on both sides); p50 and p99.
2. First-delta delay, streaming: the fake prints its first delta with the wall-clock time in it; the delay is
   the time from that print to the client receiving the SSE chunk with it. Baseline: the same delay for a
   reader of the CLI's stdout pipe.

The proxy runs as its own process (uvicorn, one worker) with the fake CLIs from tests/cli_proxy/fakes.

    .venv/bin/python -m bench.cli_proxy [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from cli_proxy.adapters.claude import HEADLESS_ARGS
from tests.support.processes import free_port, running

REPO = Path(__file__).resolve().parents[1]
FAKES = REPO / "tests" / "cli_proxy" / "fakes"
KEY = "bench-" + "key"
PROMPT_ANSWER = "Say hello"
PROMPT_STAMP = "Say hello SCENARIO=stamp"
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
        proc.stdin.write(prompt.encode())
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


def config_file(folder: Path) -> Path:
    data = {
        "search_path": [str(FAKES)],
        "use_system_path": False,
        "state_dir": str(folder / "state"),
        "defaults": {"concurrency": 1},
        "clis": {"claude": {}},
        "models": {"claude-opus": {"cli": "claude", "model": "opus"}},
    }
    path = folder / "cli-proxy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        env = {**child_env(), "CLI_PROXY_CONFIG": str(config_file(folder)), "CLI_PROXY_API_KEY": KEY}
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "cli_proxy.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with (
            running(cmd, env=env, log_path=folder / "proxy.log", health_url=f"http://127.0.0.1:{port}/healthz"),
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
            ) as client,
        ):
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


if __name__ == "__main__":
    main()
