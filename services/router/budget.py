"""Budget guard: month-to-date spend (the tracker's durable total in Redis) against the monthly budget.

Redis unreachable or the value unreadable → spend "unknown": routing goes on, it never fails a request.
No key for the month (Redis answering) → nothing spent yet."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router.config import BudgetConfig

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_from_env(names: Iterable[str]) -> str:
    """The first of the environment variables `names` that is set (budget.redis_url_envs), else the default."""
    return next((os.environ[name] for name in names if os.environ.get(name)), DEFAULT_REDIS_URL)


@dataclass(frozen=True)
class BudgetStatus:
    state: str  # uncapped | ok | warning | exceeded | unknown
    spent_usd: float | None = None
    budget_usd: float = 0.0

    @property
    def blocks_cloud(self) -> bool:
        return self.state == "exceeded"

    def reason(self) -> str | None:
        if self.state == "exceeded":
            return f"budget: month-to-date spend ${self.spent_usd:.2f} reached the ${self.budget_usd:.2f} cap"
        if self.state == "warning":
            return f"budget warning: {self.spent_usd / self.budget_usd:.0%} of the ${self.budget_usd:.2f} cap spent"
        if self.state == "unknown":
            return "budget: spend unknown (tracker totals unreachable)"
        return None


def spend_key(config: BudgetConfig, now: dt.datetime | None = None) -> str:
    month = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m")
    return config.spend_key.format(month=month)


def evaluate(config: BudgetConfig, spent: float | None) -> BudgetStatus:
    if config.monthly_usd <= 0:
        return BudgetStatus("uncapped", spent, 0.0)
    if spent is None:
        return BudgetStatus("unknown", None, config.monthly_usd)
    if spent >= config.monthly_usd:
        return BudgetStatus("exceeded", spent, config.monthly_usd)
    if spent >= config.warn_ratio * config.monthly_usd:
        return BudgetStatus("warning", spent, config.monthly_usd)
    return BudgetStatus("ok", spent, config.monthly_usd)


def _parse(value: Any) -> float | None:
    if value is None:
        return 0.0  # Redis answers but nothing was spent (recorded) this month yet
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError):
        return None


class SpendReader:
    """Reads month-to-date spend at most every refresh_s seconds; remembers failures for as long."""

    def __init__(self, config: BudgetConfig, redis_url: str | None = None) -> None:
        self.config = config
        self.redis_url = redis_url or redis_url_from_env(config.redis_url_envs)
        self._sync: Any = None
        self._async: Any = None
        self._value: float | None = None
        self._read_at = -1e18

    def _fresh(self) -> bool:
        return time.monotonic() - self._read_at < self.config.refresh_s

    def _client_kwargs(self) -> dict[str, Any]:
        timeout = self.config.timeout_s
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry_on_timeout": False}

    def read(self) -> BudgetStatus:
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        if not self._fresh():
            self._value = self._read_sync()
            self._read_at = time.monotonic()
        return evaluate(self.config, self._value)

    async def aread(self) -> BudgetStatus:
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        if not self._fresh():
            self._read_at = time.monotonic()  # one reader at a time; others use the last value
            self._value = await self._read_async()
        return evaluate(self.config, self._value)

    def _read_sync(self) -> float | None:
        import redis

        try:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self.redis_url, **self._client_kwargs())
            key = spend_key(self.config)
            field = self.config.spend_field
            return _parse(self._sync.hget(key, field) if field else self._sync.get(key))
        except (redis.RedisError, OSError, ValueError):
            return None

    async def _read_async(self) -> float | None:
        import redis
        import redis.asyncio as aredis

        try:
            if self._async is None:
                self._async = aredis.Redis.from_url(self.redis_url, **self._client_kwargs())
            key = spend_key(self.config)
            field = self.config.spend_field
            return _parse(await (self._async.hget(key, field) if field else self._async.get(key)))
        except (redis.RedisError, OSError, ValueError):
            return None
