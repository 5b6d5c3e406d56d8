"""Budget guard: month-to-date spend (the tracker's durable total in Redis) against the monthly budget.

The spend is kept in memory and refreshed in the background (router.redis_reads): a request never waits on Redis
and uses the last known figure. With a cap set, no figure newer than max_staleness_s (the last one is older, or
none was read in that long since start) fails closed: non-local tiers are disabled with the reason stated and the
request goes local. Before that, a spend not read yet is "unknown" and does not block (a one-shot `maximus route`
without Redis). No key for the month (Redis answering) means nothing spent yet."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router.config import BudgetConfig
from router.redis_reads import BackgroundRedisRead

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BLOCKING_STATES = frozenset({"exceeded", "stale"})


def redis_url_from_env(names: Iterable[str]) -> str:
    """The first of the environment variables `names` that is set (budget.redis_url_envs), else the default."""
    return next((os.environ[name] for name in names if os.environ.get(name)), DEFAULT_REDIS_URL)


@dataclass(frozen=True)
class BudgetStatus:
    # uncapped | ok | warning | exceeded | unknown (not read yet, within the limit) | stale (no figure newer
    # than max_staleness_s: the last one is older, or none was read since start)
    state: str
    spent_usd: float | None = None
    budget_usd: float = 0.0
    age_s: float | None = None  # age of the spend figure
    person: str | None = None  # a team key's own budget (router.people); None: the team's

    @property
    def blocks_cloud(self) -> bool:
        return self.state in BLOCKING_STATES

    @property
    def block_label(self) -> str:
        """Why non-local tiers are off, in a few words (for the route reasons)."""
        return "over budget" if self.state == "exceeded" else "disabled: budget spend too old"

    def reason(self) -> str | None:
        whose = f"{self.person}'s " if self.person else ""
        if self.state == "exceeded":
            spent, cap = usd(self.spent_usd), usd(self.budget_usd)
            return f"budget: {whose}month-to-date spend ${spent} reached the ${cap} cap"
        if self.state == "warning":
            return f"budget warning: {self.spent_usd / self.budget_usd:.0%} of the ${self.budget_usd:.2f} cap spent"
        if self.state == "unknown":
            return "budget: spend unknown (tracker totals unreachable)"
        if self.state == "stale":
            known = "no spend figure" if self.spent_usd is None else "the last spend figure"
            return (
                f"budget: {known} for {self.age_s:.0f} s (tracker totals unreachable): non-local tiers disabled "
                "until the tracker's totals are read again"
            )
        return None


def usd(amount: float) -> str:
    """Dollars with cents, or with the digits that matter below a cent (a person's budget can be that small)."""
    if amount == 0 or abs(amount) >= 0.01:
        return f"{amount:.2f}"
    return f"{amount:.6f}".rstrip("0")


def spend_key(config: BudgetConfig, now: dt.datetime | None = None) -> str:
    month = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m")
    return config.spend_key.format(month=month)


def evaluate(config: BudgetConfig, spent: float | None, age_s: float = 0.0) -> BudgetStatus:
    """The guard's state for a spend figure read `age_s` seconds ago (never read: the time since start)."""
    if config.monthly_usd <= 0:
        return BudgetStatus("uncapped", spent, 0.0, age_s)
    if age_s > config.max_staleness_s:
        return BudgetStatus("stale", spent, config.monthly_usd, age_s)
    if spent is None:
        return BudgetStatus("unknown", None, config.monthly_usd, age_s)
    if spent >= config.monthly_usd:
        return BudgetStatus("exceeded", spent, config.monthly_usd, age_s)
    if spent >= config.warn_ratio * config.monthly_usd:
        return BudgetStatus("warning", spent, config.monthly_usd, age_s)
    return BudgetStatus("ok", spent, config.monthly_usd, age_s)


def _parse(value: Any) -> float | None:
    if value is None:
        return 0.0  # Redis answers but nothing was spent (recorded) this month yet
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError):
        return None


class SpendReader:
    """Month-to-date spend, refreshed every refresh_s seconds in the background; requests read the last figure."""

    def __init__(self, config: BudgetConfig, redis_url: str | None = None) -> None:
        self.config = config
        self.redis_url = redis_url or redis_url_from_env(config.redis_url_envs)
        self._reader = BackgroundRedisRead(
            self.redis_url,
            config.refresh_s,
            self._client_kwargs(),
            self._command,
            _parse,
            None,
            keep_last_on_error=True,
        )

    def _client_kwargs(self) -> dict[str, Any]:
        timeout = self.config.timeout_s
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry_on_timeout": False}

    def _command(self, client: Any) -> Any:
        key, field = spend_key(self.config), self.config.spend_field
        return client.hget(key, field) if field else client.get(key)

    def _status(self) -> BudgetStatus:
        age = self._reader.age()
        return evaluate(self.config, self._reader.value, self._reader.since_start() if age is None else age)

    def read(self) -> BudgetStatus:
        """One read now (the command line)."""
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        self._reader.read()
        return self._status()

    async def aread(self) -> BudgetStatus:
        """The last known figure (the proxy); never waits on Redis except for the very first read."""
        if self.config.monthly_usd <= 0:
            return evaluate(self.config, None)
        await self._reader.latest(self.config.timeout_s)
        return self._status()


def _parse_people(raw: Any) -> dict[str, float]:
    out = {}
    for name, value in (raw or {}).items():
        parsed = _parse(value)
        if parsed is not None:
            out[name.decode() if isinstance(name, bytes) else str(name)] = parsed
    return out


class UserSpendReader:
    """Every person's month-to-date spend (fields budget.user_spend_field of the tracker's month hash), re-read in
    the background like the team's; a person not in the hash has spent nothing yet."""

    def __init__(self, config: BudgetConfig, redis_url: str | None = None) -> None:
        self.config = config
        timeout = config.timeout_s
        kwargs = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry_on_timeout": False}
        url = redis_url or redis_url_from_env(config.redis_url_envs)
        self._reader = BackgroundRedisRead(
            url, config.refresh_s, kwargs, lambda c: c.hgetall(spend_key(config)), _parse_people, {}, True
        )

    async def aread(self, person: str) -> tuple[float | None, float]:
        """(spent, age of the figure); spent None before the first read."""
        people = await self._reader.latest(self.config.timeout_s)
        age = self._reader.age()
        if age is None:
            return None, self._reader.since_start()
        return people.get(self.config.user_spend_field.format(user=person), 0.0), age
