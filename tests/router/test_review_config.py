"""Settings that were hard-coded (issue 6 review) come from routing.yaml, and the router reads spend and health
from the same Redis as the tracker (MAXIMUS_REDIS_URL first, then REDIS_URL)."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download when LiteLLM imports

import redis

from router import litellm_hook
from router.budget import SpendReader, spend_key
from router.config import BudgetConfig, HealthConfig, load_config, parse_config
from router.health import RedisTierHealth
from router.litellm_hook import RoutingHook
from router.policy import RoutingPolicy
from tests.support.stack import closed_port_url


def _closed_redis() -> str:
    return closed_port_url("/0").replace("http://", "redis://")


def test_health_timeouts_and_litellm_refresh_come_from_the_config() -> None:
    cfg = parse_config({"budget": {"monthly_usd": 0}, "health": {"timeout_s": 0.2, "litellm_refresh_s": 7}})
    assert (cfg.health.timeout_s, cfg.health.litellm_refresh_s) == (0.2, 7.0)
    health = RedisTierHealth(cfg.health, ("power",))
    assert health._client_kwargs() == {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    shipped = load_config()
    assert shipped.health.timeout_s > 0 and shipped.health.litellm_refresh_s > 0


async def test_hook_rereads_litellm_cooldowns_at_the_configured_interval(config, monkeypatch) -> None:
    calls = []

    async def fake_health(policy):
        calls.append(1)
        return litellm_hook.TierHealth()

    monkeypatch.setattr(litellm_hook, "litellm_tier_health", fake_health)
    for refresh, expected in ((3600.0, 1), (0.0, 3)):
        calls.clear()
        health = dataclasses.replace(config.health, source="litellm", litellm_refresh_s=refresh)
        policy = RoutingPolicy(dataclasses.replace(config, health=health))
        hook = RoutingHook()
        for _ in range(3):
            await hook._health(policy, RedisTierHealth(health, ()))
        assert len(calls) == expected


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
