"""Budget and health read from Redis (the tracker's totals, an operator key), degrading when Redis is away; their
settings come from routing.yaml, and the Redis is the tracker's (MAXIMUS_REDIS_URL first, then REDIS_URL)."""

from __future__ import annotations

import dataclasses

import redis

from router.budget import SpendReader, spend_key
from router.config import BudgetConfig, HealthConfig, load_config, parse_config
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


def _closed_redis() -> str:
    return closed_port_url("/0").replace("http://", "redis://")


def test_health_timeouts_and_litellm_refresh_come_from_the_config() -> None:
    cfg = parse_config({"budget": {"monthly_usd": 0}, "health": {"timeout_s": 0.2, "litellm_refresh_s": 7}})
    assert (cfg.health.timeout_s, cfg.health.litellm_refresh_s) == (0.2, 7.0)
    health = RedisTierHealth(cfg.health, ("power",))
    assert health._client_kwargs() == {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    shipped = load_config()
    assert shipped.health.timeout_s > 0 and shipped.health.litellm_refresh_s > 0


def test_redis_url_envs_config() -> None:
    assert load_config().budget.redis_url_envs[:2] == ("MAXIMUS_REDIS_URL", "REDIS_URL")
    legacy = parse_config({"budget": {"monthly_usd": 0, "redis_url_env": "REDIS_URL"}})
    assert legacy.budget.redis_url_envs == ("REDIS_URL",)


def test_spend_and_health_read_maximus_redis_url_first(redis_server, monkeypatch) -> None:
    monkeypatch.setenv("MAXIMUS_REDIS_URL", redis_server.url)
    monkeypatch.setenv("REDIS_URL", _closed_redis())
    config = load_config()
    reader = SpendReader(dataclasses.replace(config.budget, monthly_usd=50.0, refresh_s=0.0))
    health = RedisTierHealth(HealthConfig(source="redis", refresh_s=0.0), ("power",), config.budget.redis_url_envs)
    client = redis.Redis.from_url(redis_server.url)
    key = spend_key(reader.config)
    try:
        client.hset(key, "cost_usd", "45")
        client.set("maximus:tier:power:down", "1")
        assert reader.read().state == "warning"
        assert health.read().is_down("power")
    finally:
        client.delete(key, "maximus:tier:power:down")


def test_redis_url_falls_back_to_redis_url(redis_server, monkeypatch) -> None:
    monkeypatch.delenv("MAXIMUS_REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    reader = SpendReader(BudgetConfig(monthly_usd=50.0))
    assert reader.redis_url == redis_server.url
