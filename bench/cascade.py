"""The cascade's added latency (router.cascade): two gateways of the shipped config, one with learning.cascade off
(the baseline) and one with it on, started the same way (`maximus serve litellm`, one worker) on the same Ollama
double and power-tier double, in the same run, rounds interleaved so that machine noise hits both alike.

Per arm, for a max-auto request routed local (non-streaming latency; streaming: time to the first content chunk):
- confident: the double's log-probabilities are high, the cascade keeps the local answer. What the cascade adds
  here is its whole cost on the common path: the /v1 local group, logprobs asked and parsed, the judgement;
- unsure: every token at -3.0, the cascade escalates: the local answer, then the strong tier's. This is the
  price of an escalation (a second model call, here to a double that answers at once), not an overhead;
- streaming, confident: the held-back prefix (stream_prefix_tokens) delays the first chunk the client sees.
Figures are ratios against the cascade-off gateway of the same run (the doubles answer in microseconds: with a
real model the cascade's fixed cost is a far smaller share of a request).

    .venv/bin/python -m bench.cascade [--rounds R] [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

from router.config import default_config_path
from tests.support.processes import workdir
from tests.support.stack import HttpDouble, litellm_proxy, ollama_double, openai_double, redis_server

MASTER_KEY = "sk-bench-" + "cascade"
PROMPT = "hello, how are you?"  # scored local by the shipped need model
UNSURE = -3.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def routing(folder: Path, cascade: bool) -> Path:
    raw = yaml.safe_load(default_config_path().read_text())
    raw["budget"].update({"monthly_usd": 0})
    raw["learning"]["cascade"].update({"enabled": cascade, "threshold": -1.0, "min_samples": 10**9})
    path = folder / f"routing-{'on' if cascade else 'off'}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@contextlib.contextmanager
def gateway(folder: Path, env: dict[str, str], cascade: bool) -> Iterator[str]:
    with litellm_proxy(folder, {**env, "MAXIMUS_ROUTING_CONFIG": str(routing(folder, cascade))}, MASTER_KEY) as p:
        yield p.openai_base_url


def set_logprob(ollama: HttpDouble, value: float | None) -> None:
    url = f"http://127.0.0.1:{ollama.port}/_double/logprobs"
    httpx.put(url, json={"logprob": value}, timeout=5).raise_for_status()


def timed(client: httpx.Client, base: str, stream: bool) -> tuple[float, str]:
    body = {"model": "max-auto", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    start = time.perf_counter()
    if not stream:
        response = client.post(f"{base}/chat/completions", json=body, headers=headers)
        response.raise_for_status()
        return (time.perf_counter() - start) * 1000, response.headers["x-maximus-tier"]
    with client.stream("POST", f"{base}/chat/completions", json=body, headers=headers) as response:
        response.raise_for_status()
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: {") and '"content":' in line:
                first = (time.perf_counter() - start) * 1000
                break
        else:
            raise RuntimeError("no content chunk")
        for _ in lines:  # the rest of the stream, read as a client would
            pass
        return first, response.headers["x-maximus-tier"]


CASES = (("confident", None, False), ("unsure", UNSURE, False), ("streaming, confident", None, True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40, help="per arm, case and round")
    args = parser.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    tiers: dict[tuple[str, str], set[str]] = {}
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(workdir(None, "bench-cascade-"))
        redis = stack.enter_context(redis_server(folder))
        ollama = stack.enter_context(ollama_double(folder))
        cli = stack.enter_context(openai_double(folder, "cli-bench"))
        env = {"OLLAMA_API_BASE": ollama.base_url, "REDIS_URL": redis.url, "CLI_PROXY_API_BASE": cli.base_url}
        arms = {"off": stack.enter_context(gateway(folder, env, False))}
        arms["on"] = stack.enter_context(gateway(folder, env, True))
        client = stack.enter_context(httpx.Client(timeout=60))
        for base in arms.values():  # warm-up: the first requests load LiteLLM's lazy parts
            for _, value, stream in CASES:
                set_logprob(ollama, value)
                for _ in range(5):
                    timed(client, base, stream)
        for round_index in range(args.rounds):
            order = list(arms.items()) if round_index % 2 == 0 else list(reversed(arms.items()))
            for case, value, stream in CASES:
                set_logprob(ollama, value)
                for name, base in order:
                    for _ in range(args.requests):
                        elapsed, tier = timed(client, base, stream)
                        times.setdefault((name, case), []).append(elapsed)
                        tiers.setdefault((name, case), set()).add(tier)
        set_logprob(ollama, None)
    report(times, tiers, args)


def report(
    times: dict[tuple[str, str], list[float]], tiers: dict[tuple[str, str], set[str]], args: argparse.Namespace
) -> None:
    print(
        f"Cascade latency ({args.rounds} interleaved rounds x {args.requests} requests per arm and case; one worker "
        "each; doubles answer at once, so a real model's time would dwarf these)"
    )
    for case, _, stream in CASES:
        off, on = times[("off", case)], times[("on", case)]
        what = "first content chunk" if stream else "latency"
        p50_off, p50_on = statistics.median(off), statistics.median(on)
        print(
            f"  {case} ({what}): cascade off p50 {p50_off:.1f} ms, p99 {percentile(off, 0.99):.1f} ms "
            f"[{'/'.join(sorted(tiers[('off', case)]))}]; on p50 {p50_on:.1f} ms, p99 {percentile(on, 0.99):.1f} ms "
            f"[{'/'.join(sorted(tiers[('on', case)]))}]; p50 ratio {p50_on / p50_off:.2f}x (+{p50_on - p50_off:.1f} ms)"
        )


if __name__ == "__main__":
    main()
