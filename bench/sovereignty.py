"""The sovereignty target as a user meets it: a mixed request stream through the real gateway, counted by the tracker.

The shipped litellm/config.yaml and routing.yaml, rendered by `maximus serve litellm` (routing hook with its online
threshold, tracker callback), Redis and the tracker as real processes. Doubles answer for the tiers that cannot run
here: Ollama (local), the CLI proxy (power, creative) and the vision service. The stream is the development set,
held-out and private cases, MT-Bench first turns and MMLU questions, shuffled (tests/router/accuracy.mixed_stream),
none of it the calibration sample; it is sent `--passes` times at concurrency `--concurrency`, all to max-auto.

Printed: the share the gateway decided sovereign (x-maximus-tier), the share the tracker counted over its last
answers (the figure the hook steers on, maximus_sovereignty_ratio_recent) and over the whole run, each against
routing.yaml's sovereignty_target +- 3 points.

    .venv/bin/python -m bench.sovereignty [--passes N] [--limit N] [--concurrency N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from router.config import load_config
from tests.router.accuracy import mixed_stream
from tests.support.processes import REPO, workdir
from tests.support.stack import LiteLLMProxy, litellm_proxy, ollama_double, openai_double
from tests.tracker.conftest import RedisProcess, TrackerProcess, wait_consumed

MASTER_KEY = "sk-bench-" + "sovereignty"
SHIPPED_LITELLM_CONFIG = REPO / "litellm" / "config.yaml"
SOVEREIGN = ("local", "vision")


@contextlib.contextmanager
def gateway(folder: Path) -> Iterator[tuple[LiteLLMProxy, TrackerProcess, str]]:
    """Redis, the tracker (shipped tier map and routing.yaml), the tier doubles and the gateway."""
    with contextlib.ExitStack() as stack:
        redis_server = RedisProcess(folder / "redis")
        redis_server.start()
        stack.callback(redis_server.stop)
        tracker = TrackerProcess(redis_server.url, folder / "tracker", litellm_config=SHIPPED_LITELLM_CONFIG)
        tracker.start()
        stack.callback(tracker.stop)
        ollama = stack.enter_context(ollama_double(folder))
        strong = stack.enter_context(openai_double(folder, "strong-tiers"))
        backends = {
            "OLLAMA_API_BASE": ollama.base_url,
            "CLI_PROXY_API_BASE": strong.base_url,
            "VISION_API_BASE": strong.base_url,
            "REDIS_URL": redis_server.url,
            "MAXIMUS_SPOOL_DIR": str(folder / "spool"),
        }
        proxy = stack.enter_context(litellm_proxy(folder, backends, master_key=MASTER_KEY))
        yield proxy, tracker, redis_server.url


async def send(proxy: LiteLLMProxy, bodies: list[dict[str, Any]], concurrency: int) -> Counter[str]:
    """Every body once, `concurrency` at a time; the tiers the gateway named (x-maximus-tier), or the status."""
    tiers: Counter[str] = Counter()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            reply = await client.post(f"{proxy.base_url}/v1/chat/completions", json=body)
            tiers[reply.headers.get("x-maximus-tier", "?") if reply.status_code == 200 else str(reply.status_code)] += 1

    async with httpx.AsyncClient(headers=proxy.headers(), timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return tiers


def _mark(share: float | None, target: float) -> str:
    if share is None:
        return "no figure"
    return f"{share:.1%} ({'met' if abs(share - target) <= 0.03 else 'MISSED'})"


def report(decided: Counter[str], stats: dict[str, Any], target: float) -> None:
    sent = sum(decided.values())
    answered = sum(count for tier, count in decided.items() if not tier.isdigit())
    kept = sum(decided[tier] for tier in SOVEREIGN)
    ratio = stats["sovereignty_ratio"]
    print(f"sovereignty through the gateway: {sent} max-auto requests of a mixed stream; target {target:.0%} +- 3")
    print(f"  tiers the gateway named: {dict(sorted(decided.items()))}")
    print(f"  decided sovereign by the gateway: {_mark(kept / answered if answered else None, target)}")
    print(
        f"  counted by the tracker, last {ratio['recent_answers']} answers (what the hook steers on): "
        f"{_mark(ratio['recent'], target)}"
    )
    print(f"  counted by the tracker, whole run ({stats['requests']} answers): {_mark(ratio['all_time'], target)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2, help="times the mixed stream is sent")
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests of the stream (0: all)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep the services' logs there")
    args = parser.parse_args()
    stream = mixed_stream()
    bodies = (stream[: args.limit] if args.limit else stream) * args.passes
    target = load_config().sovereignty_target
    with workdir(args.keep, "bench-sovereignty-") as folder, gateway(folder) as (proxy, tracker, redis_url):
        decided = asyncio.run(send(proxy, bodies, args.concurrency))
        wait_consumed(redis_url)
        report(decided, tracker.stats(), target)


if __name__ == "__main__":
    main()
