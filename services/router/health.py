"""Tier health: a tier that is down or cooling down is skipped before it is tried.

Sources (routing.yaml health.source): LiteLLM's own cooldowns (read by router.litellm_hook, which may import
LiteLLM) and an operator/monitor key in Redis. Unreachable sources mean "no information": tiers count as up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from router.budget import redis_url_from_env
from router.config import BudgetConfig, HealthConfig
from router.redis_reads import BackgroundRedisRead


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
    """Reads health.redis_key for each tier (any value = down) every refresh_s seconds, in the background."""

    def __init__(
        self, config: HealthConfig, tiers: Iterable[str], redis_url_envs: Iterable[str] = BudgetConfig.redis_url_envs
    ) -> None:
        self.config = config
        self.tiers = tuple(tiers)
        self.redis_url = redis_url_from_env(redis_url_envs)
        self._reader = BackgroundRedisRead(
            self.redis_url,
            config.refresh_s,
            self._client_kwargs(),
            lambda client: client.mget(self._keys()),
            self._from_values,
            ALL_UP,
        )

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
        return self._reader.read() if self.enabled else ALL_UP

    async def aread(self) -> TierHealth:
        return await self._reader.latest(self.config.timeout_s) if self.enabled else ALL_UP
