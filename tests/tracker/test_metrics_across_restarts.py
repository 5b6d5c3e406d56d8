"""Real Prometheus scraping the real tracker: after a SIGKILL of the tracker or of Redis under load, 0 requests are
lost or counted twice, and increase() of the request counters over the run equals what the durable totals
counted, series by series, exactly."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.stack import PrometheusServer, prometheus_server
from tests.tracker.conftest import RedisProcess, TrackerProcess, wait_consumed
from tests.tracker.mixed import Expected, assert_stats, drive_cycle
from tests.tracker.test_pipeline import make_callback
from tracker.totals import SEP, TOTALS_KEY, decode_hash

pytestmark = pytest.mark.integration

CYCLES_PER_ROUND = 20  # 8 requests each
SCRAPE = "1s"


def _config(tracker: TrackerProcess) -> dict:
    return {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "scrape_configs": [
            {
                "job_name": "tracker",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{tracker.port}"]}],
            }
        ],
    }


def _last_scrape(prom: PrometheusServer) -> float:
    """The timestamp of the latest successful scrape (timestamp() of a bare selector is the sample's own time)."""
    up = prom.query('up{job="tracker"}')["result"]
    if not up or up[0]["value"][1] != "1":
        return 0.0
    return float(prom.query('timestamp(up{job="tracker"})')["result"][0]["value"][1])


def _scraped_after(prom: PrometheusServer, moment: float, timeout: float = 30.0) -> float:
    """The timestamp of the first successful scrape that began after `moment` (wall clock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scraped = _last_scrape(prom)
        if scraped > moment:
            return scraped
        time.sleep(0.2)
    raise TimeoutError("Prometheus did not scrape the tracker again")


def _durable_requests(url: str) -> dict[tuple[str, str, str], float]:
    client = redis.Redis.from_url(url)
    try:
        totals = decode_hash(client.hgetall(TOTALS_KEY))
    finally:
        client.close()
    return {tuple(name.split(SEP)[1:]): value for name, value in totals.items() if name.startswith("req" + SEP)}


def _sigkill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


class Fault:
    """What is killed after round 2 and started again after round 4."""

    def __init__(self, name: str, tracker: TrackerProcess, redis_proc: RedisProcess) -> None:
        self.name, self.tracker, self.redis = name, tracker, redis_proc

    def kill(self) -> None:
        if self.name == "tracker":
            self.tracker.kill()  # entries in flight, some counted after the last scrape
        else:
            _sigkill(self.redis.proc)  # no shutdown: the publisher spools, the tracker waits
            self.redis.proc = None

    def restart(self) -> None:
        # Same ports: Prometheus scrapes the new tracker as the same target, the publisher finds Redis again.
        self.tracker.start() if self.name == "tracker" else self.redis.start()


@pytest.mark.parametrize("killed", ["tracker", "redis"])
async def test_increase_equals_answered_requests_across_a_sigkill(
    redis_proc: RedisProcess, tmp_path: Path, killed: str
) -> None:
    tracker = TrackerProcess(redis_proc.url, tmp_path / "tracker")
    tracker.start()
    fault = Fault(killed, tracker, redis_proc)
    cb = make_callback(redis_proc.url, tmp_path / "spool")
    cycles = 0
    try:
        with prometheus_server(tmp_path, _config(tracker)) as prom:
            prom.wait_for_scrape("tracker")
            run_start = time.time()
            for round_ in range(6):
                for i in range(CYCLES_PER_ROUND):
                    await drive_cycle(cb, f"r{round_}-{i}")
                cycles += CYCLES_PER_ROUND
                if round_ != 3:  # during the outage of Redis the events wait in the spool
                    await cb.publisher.drain(30)
                if round_ == 2:
                    fault.kill()
                if round_ == 4:
                    fault.restart()
                await asyncio.sleep(1.2)  # at least one scrape per round
            assert await cb.publisher.drain(60)
            await cb.publisher.close()
            wait_consumed(redis_proc.url)
            end = _scraped_after(prom, time.time())
            window = math.ceil(end - run_start) + 5
            promql = f"sum by (tier, model, outcome) (increase(maximus_requests_total[{window}s]))"
            response = prom.query_at(promql, end)
        assert_stats(tracker.stats(), Expected(cycles))  # 0 lost, 0 counted twice
    finally:
        tracker.stop()

    increases = {
        (s["metric"]["tier"], s["metric"]["model"], s["metric"]["outcome"]): float(s["value"][1])
        for s in response["result"]
    }
    durable = _durable_requests(redis_proc.url)
    assert sum(durable.values()) == 8 * cycles  # every request counted once in Redis
    assert {k: round(v, 6) for k, v in increases.items() if v} == durable
    answered = sum(v for (_, _, outcome), v in increases.items() if outcome == "success")
    assert round(answered, 6) == sum(Expected(cycles).answered.values())
