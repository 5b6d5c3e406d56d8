"""Tracker throughput and the latency our LiteLLM callback adds.

1. Events per second the tracker sustains: N mixed events are added to the stream while the tracker runs;
   the figure is N / (time until the consumer group has read and acknowledged all of them). Baseline, same
   Redis and same run: a bare consumer that only reads, acknowledges and deletes (no counting): the ceiling.
2. Latency the callback adds to a request: the same LiteLLM proxy config, with the tracker callback and
   without any callback, both on the same OpenAI double; requests alternate between them, sequentially;
   p50 and p99 of client-side latency, and the difference.

    .venv/bin/python -m bench.tracker [--events N] [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis
import yaml

from tests.support.stack import openai_double
from tests.tracker.conftest import TEST_LITELLM_CONFIG, RedisProcess, TrackerProcess, wait_consumed
from tests.tracker.stack import DOUBLE_USAGE, MASTER_KEY, litellm_process, proxy_env
from tracker.events import FAILURE, SUCCESS, AttemptEvent

STREAM, GROUP = "maximus:events", "tracker"
GROUPS = [
    ("max-buddy", "local"),
    ("max-genius", "power"),
    ("max-opus", "creative"),
    ("max-vision", "vision"),
    ("max-cloud", "cloud"),
]


def mixed_events(n: int) -> list[AttemptEvent]:
    events = []
    for i in range(n):
        group, tier = GROUPS[i % len(GROUPS)]
        kind = FAILURE if i % 10 == 9 else SUCCESS
        events.append(
            AttemptEvent(
                kind=kind,
                call_id=f"bench-{i}",
                model_group=group,
                tier=tier,
                prompt_tokens=100,
                completion_tokens=50,
                latency_s=0.2,
                route_reasons=["default"],
            )
        )
    return events


def add_all(client: redis.Redis, events: list[AttemptEvent], stream: str = STREAM) -> None:
    for start in range(0, len(events), 1000):
        pipe = client.pipeline(transaction=False)
        for event in events[start : start + 1000]:
            pipe.xadd(stream, event.to_fields())
        pipe.execute()


def bare_consumer_rate(server: RedisProcess, events: list[AttemptEvent]) -> float:
    client = redis.Redis.from_url(server.url)
    stream = "bench:bare"
    client.xgroup_create(stream, "bare", id="0", mkstream=True)
    add_all(client, events, stream)
    started, done = time.perf_counter(), 0
    while done < len(events):
        reply = client.xreadgroup("bare", "c", {stream: ">"}, count=500)
        ids = [entry_id for entry_id, _ in reply[0][1]] if reply else []
        if ids:
            client.xack(stream, "bare", *ids)
            client.xdel(stream, *ids)
        done += len(ids)
    client.close()
    return len(events) / (time.perf_counter() - started)


def tracker_rate(server: RedisProcess, tracker: TrackerProcess, events: list[AttemptEvent]) -> float:
    client = redis.Redis.from_url(server.url)
    started = time.perf_counter()
    add_all(client, events)
    wait_consumed(server.url, timeout=600)
    elapsed = time.perf_counter() - started
    client.close()
    counted = tracker.stats()
    assert counted["requests"] + counted["failures"] == sum(e.kind == SUCCESS for e in events), counted
    return len(events) / elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def proxy(tmp: Path, name: str, callbacks: list[str], env: dict[str, str]) -> Iterator[str]:
    config = yaml.safe_load(TEST_LITELLM_CONFIG.read_text())
    config["litellm_settings"]["callbacks"] = callbacks
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    with litellm_process(tmp, path, env, name=name, timeout=180) as base_url:
        yield base_url


def timed_request(client: httpx.Client, base_url: str) -> float:
    body = {"model": "max-buddy", "messages": [{"role": "user", "content": "bench"}]}
    started = time.perf_counter()
    response = client.post(f"{base_url}/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def callback_latency(tmp: Path, server: RedisProcess, requests: int) -> tuple[list[float], list[float]]:
    with contextlib.ExitStack() as stack:
        double = stack.enter_context(openai_double(tmp, "tiers", usage=DOUBLE_USAGE))
        env = proxy_env(double.base_url, server.url, tmp / "spool")
        with_cb = stack.enter_context(proxy(tmp, "with-callback", ["tracker.litellm_callback.event_publisher"], env))
        without = stack.enter_context(proxy(tmp, "without-callbacks", [], env))
        client = stack.enter_context(httpx.Client(headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30))
        for _ in range(20):  # warm both
            timed_request(client, with_cb), timed_request(client, without)
        a, b = [], []
        for _ in range(requests):
            a.append(timed_request(client, with_cb))
            b.append(timed_request(client, without))
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with tempfile.TemporaryDirectory(prefix="bench-tracker-") as tmp_name:
        tmp = Path(tmp_name)
        server = RedisProcess(tmp / "redis")
        server.start()
        tracker = TrackerProcess(server.url, tmp / "tracker")
        try:
            tracker.start()
            events = mixed_events(args.events)
            rate = tracker_rate(server, tracker, events)
            bare = bare_consumer_rate(server, events)
            print(
                f"tracker consumption: {rate:,.0f} events/s (bare XREADGROUP+XACK+XDEL on the same Redis: "
                f"{bare:,.0f} events/s; ratio {rate / bare:.2f}) over {args.events:,} events"
            )
            tracker.stop()
            with_cb, without = callback_latency(tmp, server, args.requests)
        finally:
            tracker.stop()
            server.stop()
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        a, b = percentile(with_cb, q) * 1000, percentile(without, q) * 1000
        print(
            f"request latency {name}: with callback {a:.2f} ms, without callbacks {b:.2f} ms, "
            f"added {a - b:+.2f} ms (ratio {a / b:.3f})"
        )
    print(
        f"mean: with {statistics.mean(with_cb) * 1000:.2f} ms, without {statistics.mean(without) * 1000:.2f} ms "
        f"({args.requests} sequential requests each, alternating, same proxy config and backend)"
    )


if __name__ == "__main__":
    main()
