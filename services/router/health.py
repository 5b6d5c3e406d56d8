"""Tier health: a tier that is down or cooling down is skipped before it is tried.

Sources (routing.yaml health.source): LiteLLM's own cooldowns (read by router.litellm_hook, which may import
LiteLLM) and an operator/monitor key in Redis. Unreachable sources mean "no information": tiers count as up."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from router.budget import redis_url_from_env
from router.config import BudgetConfig, HealthConfig


@dataclass(frozen=True)
class TierHealth:
    down: dict[str, str] = field(default_factory=dict)  # tier -> why (cooling down, marked down, not configured)

    def is_down(self, tier: str) -> bool:
        return tier in self.down

    def merged(self, other: TierHealth) -> TierHealth:
        return TierHealth({**self.down, **other.down})


ALL_UP = TierHealth()


def merge(healths: Iterable[TierHealth]) -> TierHealth:
    result = ALL_UP
    for health in healths:
        result = result.merged(health)
    return result


class RedisTierHealth:
    """Reads health.redis_key for each tier (any value = down), at most every refresh_s seconds."""

    def __init__(
        self, config: HealthConfig, tiers: Iterable[str], redis_url_envs: Iterable[str] = BudgetConfig.redis_url_envs
    ) -> None:
        self.config = config
        self.tiers = tuple(tiers)
        self.redis_url = redis_url_from_env(redis_url_envs)
        self._client: Any = None
        self._value = ALL_UP
        self._read_at = -1e18

    @property
    def enabled(self) -> bool:
        return "redis" in self.config.source

    def _client_kwargs(self) -> dict[str, Any]:
        timeout = self.config.timeout_s
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout}

    def _keys(self) -> list[str]:
        return [self.config.redis_key.format(tier=tier) for tier in self.tiers]

    def _from_values(self, values: list[Any]) -> TierHealth:
        return TierHealth({t: "marked down" for t, v in zip(self.tiers, values, strict=True) if v is not None})

    def read(self) -> TierHealth:
        if not self.enabled:
            return ALL_UP
        if time.monotonic() - self._read_at >= self.config.refresh_s:
            import redis

            self._read_at = time.monotonic()
            try:
                if self._client is None:
                    self._client = redis.Redis.from_url(self.redis_url, **self._client_kwargs())
                self._value = self._from_values(self._client.mget(self._keys()))
            except (redis.RedisError, OSError):
                self._value = ALL_UP
        return self._value

    async def aread(self) -> TierHealth:
        if not self.enabled:
            return ALL_UP
        if time.monotonic() - self._read_at >= self.config.refresh_s:
            import redis
            import redis.asyncio as aredis

            self._read_at = time.monotonic()
            try:
                if self._client is None:
                    self._client = aredis.Redis.from_url(self.redis_url, **self._client_kwargs())
                self._value = self._from_values(await self._client.mget(self._keys()))
            except (redis.RedisError, OSError):
                self._value = ALL_UP
        return self._value
