"""End to end through real processes: callback -> Redis stream -> tracker -> durable totals, metrics, audit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import redis
from rich.console import Console

from tests.support.processes import free_port
from tests.tracker.conftest import TRACKER_KEY, RedisProcess, TrackerProcess, wait_consumed
from tests.tracker.mixed import Expected, assert_stats, drive_cycle
from tracker import dashboard
from tracker.events import SUCCESS, AttemptEvent
from tracker.litellm_callback import SovereigntyEventPublisher, TierLookup
from tracker.publisher import EventPublisher

pytestmark = pytest.mark.integration


def make_callback(redis_url: str, spool_dir: Path) -> SovereigntyEventPublisher:
    publisher = EventPublisher(redis_url, "maximus:events", spool_dir, retry_interval_s=0.2)
    return SovereigntyEventPublisher(publisher, TierLookup())


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not exposed")


async def spooled_lines(spool_dir: Path, expected: int, timeout: float = 30.0) -> int:
    """Poll the spool files until they hold `expected` lines or the deadline passes; the last count seen."""
    deadline = time.monotonic() + timeout
    while True:
        count = sum(p.read_text().count("\n") for p in spool_dir.glob("*.jsonl"))  # whole lines only
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


async def test_mixed_run_counts_exactly(redis_proc: RedisProcess, tracker_proc: TrackerProcess, tmp_path: Path) -> None:
    cb = make_callback(redis_proc.url, tmp_path / "spool")
    cycles = 5
    for i in range(cycles):
        await drive_cycle(cb, f"mixed{i}")
    assert await cb.publisher.drain(30)
    await cb.publisher.close()
    wait_consumed(redis_proc.url)

    exp = Expected(cycles)
    assert_stats(tracker_proc.stats(), exp)
    text = tracker_proc.metrics()
    assert metric(text, 'maximus_requests_total{model="max-buddy",outcome="success",tier="local"}') == 2 * cycles
    assert metric(text, 'maximus_requests_total{model="max-dead",outcome="failure",tier="cloud"}') == cycles
    assert metric(text, 'maximus_requests_total{model="max-flaky",outcome="success",tier="power"}') == 0
    assert metric(text, 'maximus_fallbacks_total{from_tier="power",to_tier="local"}') == cycles
    assert metric(text, 'maximus_fallbacks_total{from_tier="local",to_tier="power"}') == 0
    assert metric(text, 'maximus_tokens_total{model="max-opus",tier="creative",type="output"}') == 5 * cycles
    assert metric(text, 'maximus_privacy_pins_total{kind="secret"}') == cycles
    assert metric(text, 'maximus_privacy_pins_total{kind="iban"}') == 0
    assert metric(text, 'maximus_request_duration_seconds_count{tier="local"}') == 3 * cycles
    assert metric(text, "maximus_sovereignty_ratio") == pytest.approx(4 / 7)
    # The live share the router steers on: one flag per answered request, exactly once (35 answers < the window).
    assert metric(text, "maximus_sovereignty_ratio_recent") == pytest.approx(4 / 7)
    assert tracker_proc.stats()["sovereignty_ratio"]["recent_answers"] == 7 * cycles
    assert metric(text, "maximus_budget_spent_usd") == pytest.approx(exp.cost)
    assert metric(text, "maximus_budget_limit_usd") == 1.0
    assert metric(text, "maximus_saved_usd_total") == pytest.approx(exp.saved)

    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert httpx.get(f"{tracker_proc.base_url}/metrics").status_code == 200  # no redirect to /metrics/

    audit = [json.loads(line) for line in (tracker_proc.directory / "audit" / "audit.jsonl").read_text().splitlines()]
    assert len(audit) == 8 * cycles
    assert len({line["call_id"] for line in audit}) == 8 * cycles
    fallback = next(line for line in audit if line["call_id"] == "mixed0-6")
    assert (fallback["tier"], fallback["fallback_from_tier"], fallback["outcome"]) == ("local", "power", "success")
    assert "PROMPT" not in (tracker_proc.directory / "audit" / "audit.jsonl").read_text()


async def test_event_delivered_twice_counts_once(redis_proc: RedisProcess, tracker_proc: TrackerProcess) -> None:
    client = redis.Redis.from_url(redis_proc.url)
    event = AttemptEvent(
        kind=SUCCESS, call_id="twice", model_group="max-cloud", tier="cloud", prompt_tokens=11, completion_tokens=5
    )
    client.xadd("maximus:events", event.to_fields())
    client.xadd("maximus:events", event.to_fields())  # the same event again (a spool replay after a lost reply)
    again = AttemptEvent(
        kind=SUCCESS, call_id="twice", model_group="max-cloud", tier="cloud", prompt_tokens=11, completion_tokens=5
    )
    client.xadd("maximus:events", again.to_fields())  # another success for the same request
    client.xadd("maximus:events", {"e": "not json"})  # a poison entry is acknowledged, not retried forever
    wait_consumed(redis_proc.url)
    stats = tracker_proc.stats()
    assert stats["tiers"]["cloud"]["requests"] == 1
    assert stats["tiers"]["cloud"]["input_tokens"] == 11
    assert stats["budget"]["spent_usd"] == pytest.approx((11 * 1000 + 5 * 2000) / 1e6)
    text = tracker_proc.metrics()
    assert metric(text, 'maximus_tracker_events_total{result="duplicate"}') == 1
    assert metric(text, 'maximus_tracker_events_total{result="invalid"}') == 1
    assert metric(text, 'maximus_attempts_total{outcome="success",tier="cloud"}') == 2
    assert client.lrange("maximus:recent", 0, -1) == [b"0"]  # one answer, at a tier that is not sovereign
    client.close()


async def test_tracker_killed_mid_load_keeps_exact_totals(redis_proc: RedisProcess, tmp_path: Path) -> None:
    tracker = TrackerProcess(redis_proc.url, tmp_path / "tracker")
    tracker.start()
    cb = make_callback(redis_proc.url, tmp_path / "spool")
    cycles = 0
    try:
        for round_ in range(6):
            for i in range(40):
                await drive_cycle(cb, f"kill{round_}-{i}")
            cycles += 40
            await cb.publisher.drain(30)
            if round_ == 2:
                tracker.kill()  # SIGKILL while entries are in flight
            if round_ == 4:
                tracker.start()
            await asyncio.sleep(0.05)
        await cb.publisher.close()
        wait_consumed(redis_proc.url)
        assert_stats(tracker.stats(), Expected(cycles))
    finally:
        tracker.stop()


async def test_redis_restart_spools_and_replays_exact_totals(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis", persistent=True)
    server.start()
    tracker = TrackerProcess(server.url, tmp_path / "tracker")
    tracker.start()
    spool_dir = tmp_path / "spool"
    cb = make_callback(server.url, spool_dir)
    try:
        for i in range(10):
            await drive_cycle(cb, f"before{i}")
        assert await cb.publisher.drain(30)
        server.stop()
        for i in range(10):
            await drive_cycle(cb, f"during{i}")
        # Redis is down: the events wait in the local file (the publisher task writes them there).
        assert await spooled_lines(spool_dir, 10 * 11) == 10 * 11
        assert cb.publisher.spool.has_pending()
        server.start()
        for i in range(10):
            await drive_cycle(cb, f"after{i}")
        assert await cb.publisher.drain(60)
        assert not list(spool_dir.glob("*.jsonl"))
        await cb.publisher.close()
        wait_consumed(server.url)
        assert_stats(tracker.stats(), Expected(30))
    finally:
        tracker.stop()
        server.stop()


async def test_terminal_dashboard_prints_one_frame(
    redis_proc: RedisProcess, tracker_proc: TrackerProcess, tmp_path: Path
) -> None:
    cb = make_callback(redis_proc.url, tmp_path / "spool")
    await drive_cycle(cb, "dash")
    assert await cb.publisher.drain(30)
    await cb.publisher.close()
    wait_consumed(redis_proc.url)
    console = Console(record=True, width=140)
    dashboard.run(tracker_proc.base_url, TRACKER_KEY, once=True, interval=1.0, console=console)
    frame = console.export_text()
    assert "57.1%" in frame  # 4 sovereign answers of 7
    assert "$0.02 of $1.00" in frame
    assert "power->local: 1" in frame and "secret: 1" in frame
    local_row = next(line for line in frame.splitlines() if "local (sovereign)" in line)
    assert [cell.strip() for cell in local_row.split("│")[3:5]] == ["3", "0"]
    with pytest.raises(dashboard.DashboardError):
        dashboard.run(tracker_proc.base_url, "wrong-key", once=True, interval=1.0, console=console)


def test_stats_answers_503_while_redis_is_down(tmp_path: Path) -> None:
    tracker = TrackerProcess(f"redis://127.0.0.1:{free_port()}/0", tmp_path / "tracker")  # nothing listens there
    tracker.start()
    try:
        response = httpx.get(
            f"{tracker.base_url}/stats", headers={"Authorization": f"Bearer {TRACKER_KEY}"}, timeout=30
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        error = response.json()["error"]
        assert (error["message"], error["type"]) == (
            "durable totals unavailable (Redis unreachable)",
            "service_unavailable",
        )
        console = Console(record=True, width=140)
        with pytest.raises(dashboard.DashboardError, match=r"503 .*durable totals unavailable \(Redis unreachable\)"):
            dashboard.run(tracker.base_url, TRACKER_KEY, once=True, interval=1.0, console=console)
    finally:
        tracker.stop()


def test_recent_answers_keep_the_window_newest_first(redis_proc: RedisProcess) -> None:
    """The list the router steers on holds the last `window` answers, and an event applied again adds nothing."""
    from tracker.accounting import Increments, script_args
    from tracker.totals import APPLY_SCRIPT, RECENT_KEY

    client = redis.Redis.from_url(redis_proc.url)
    apply = client.register_script(APPLY_SCRIPT)
    flags = ["1", "1", "0", "1", "0"]
    for i, flag in enumerate([*flags, flags[-1]]):
        event_id = f"e{min(i, len(flags) - 1)}"  # the last one twice: a redelivery
        inc = Increments(recent=flag)
        inc.hour["answered"] += 1
        keys = ["s", "t", "m", "h", f"maximus:seen:{event_id}", f"maximus:call:{event_id}", RECENT_KEY]
        apply(keys=keys, args=script_args(inc, "g", "0-1", 60, 60, True, 3))
    assert client.lrange(RECENT_KEY, 0, -1) == [b"0", b"1", b"0"]
    client.close()
