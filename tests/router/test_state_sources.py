"""Budget and health read from Redis (the tracker's totals, an operator key), degrading when Redis is away."""

from __future__ import annotations

import dataclasses

import redis

from router.budget import SpendReader, spend_key
from router.config import BudgetConfig, HealthConfig
from router.health import RedisTierHealth
from tests.support.stack import closed_port_url


def _reader(url: str, **changes) -> SpendReader:
    config = dataclasses.replace(BudgetConfig(monthly_usd=50.0, refresh_s=0.0), **changes)
    return SpendReader(config, redis_url=url)


def test_spend_unreachable_redis_is_unknown_then_fails_closed_after_the_limit() -> None:
    url = closed_port_url("/0").replace("http://", "redis://")
    status = _reader(url).read()
    assert status.state == "unknown" and not status.blocks_cloud
    status = _reader(url, max_staleness_s=0.0).read()
    assert status.state == "stale" and status.blocks_cloud
    assert "no spend figure" in status.reason() and "non-local tiers disabled" in status.reason()


async def test_spend_unreachable_redis_is_unknown_async() -> None:
    url = closed_port_url("/0").replace("http://", "redis://")
    assert (await _reader(url).aread()).state == "unknown"


def test_spend_read_from_a_plain_key(redis_server) -> None:
    reader = _reader(redis_server.url, spend_key="test:plain:{month}", spend_field=None)
    client = redis.Redis.from_url(redis_server.url)
    key = spend_key(reader.config)
    try:
        client.set(key, "42.5")
        assert reader.read().state == "warning"
        client.set(key, "50")
        assert reader.read().blocks_cloud
        client.set(key, "not a number")
        assert reader.read().state == "unknown"
        client.delete(key)
        assert (reader.read().state, reader.read().spent_usd) == ("ok", 0.0)
    finally:
        client.delete(key)


async def test_spend_read_from_the_tracker_month_totals(redis_server) -> None:
    from tracker.totals import MONTH_SPEND_FIELD, month_key

    reader = _reader(redis_server.url)  # the default layout is the tracker's
    client = redis.Redis.from_url(redis_server.url)
    key = spend_key(reader.config)
    assert key == month_key()
    try:
        client.hset(key, MONTH_SPEND_FIELD, "10")
        status = await reader.aread()
        assert (status.state, status.spent_usd) == ("ok", 10.0)
    finally:
        client.delete(key)


def test_health_key_marks_a_tier_down(redis_server, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    health = RedisTierHealth(HealthConfig(source="redis", refresh_s=0.0), ("power", "creative"))
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("maximus:tier:power:down", "1")
        state = health.read()
        assert state.is_down("power") and not state.is_down("creative")
    finally:
        client.delete("maximus:tier:power:down")
    assert not health.read().is_down("power")


def test_health_unreachable_redis_means_all_up(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", closed_port_url("/0").replace("http://", "redis://"))
    health = RedisTierHealth(HealthConfig(source="redis", refresh_s=0.0), ("power",))
    assert health.read().down == {}
