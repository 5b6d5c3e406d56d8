"""Budget guard: month-to-date spend (the tracker's durable total in Redis) against the monthly budget.

Redis unreachable or the value unreadable → spend "unknown": routing goes on, it never fails a request.
No key for the month (Redis answering) → nothing spent yet."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router.config import BudgetConfig
from router.redis_reads import ThrottledRedisRead

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
        self._reader = ThrottledRedisRead(
            self.redis_url, config.refresh_s, self._client_kwargs(), self._command, _parse, None
        )

    def _client_kwargs(self) -> dict[str, Any]:
        timeout = self.config.timeout_s
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry_on_timeout": False}

    def _command(self, client: Any) -> Any:
        key, field = spend_key(self.config), self.config.spend_field
        return client.hget(key, field) if field else client.get(key)

    def read(self) -> BudgetStatus:
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        return evaluate(self.config, self._reader.read())

    async def aread(self) -> BudgetStatus:
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        return evaluate(self.config, await self._reader.aread())
