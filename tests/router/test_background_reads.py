"""The budget and health guards read Redis in the background: requests never wait on it (only the first one after
start, for the first read), a failed read keeps the last spend figure, and an old figure fails closed."""

from __future__ import annotations

import asyncio

from router.budget import SpendReader
from router.config import BudgetConfig
from router.redis_reads import BackgroundRedisRead


class CountingCommand:
    """Stands in for the Redis call: counts calls, answers `value` or raises when `fail` is set."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0
        self.fail = False

    async def __call__(self, client: object) -> str:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise OSError("Redis went away")
        return self.value


def _reader(command: CountingCommand, refresh_s: float = 60.0) -> BackgroundRedisRead[float | None]:
    reader: BackgroundRedisRead[float | None] = BackgroundRedisRead(
        "redis://127.0.0.1:1/0", refresh_s, {}, command, float, None, keep_last_on_error=True
    )
    reader._async = object()  # the command never touches a client
    return reader


async def test_concurrent_requests_share_one_background_read() -> None:
    command = CountingCommand("12.5")
    reader = _reader(command)
    values = await asyncio.gather(*(reader.latest(wait_first_s=1.0) for _ in range(64)))
    assert set(values) == {12.5}
    assert command.calls == 1  # 64 requests, one Redis read: none of them issued its own
    reader.stop()


async def test_failed_read_keeps_the_last_figure_and_its_age_grows() -> None:
    command = CountingCommand("7")
    reader = _reader(command)
    await reader.refresh()
    first_age = reader.age()
    command.fail = True
    await reader.refresh()
    assert reader.value == 7.0 and reader.age() >= first_age


async def test_spend_older_than_the_limit_fails_closed() -> None:
    config = BudgetConfig(monthly_usd=50.0, refresh_s=60.0, max_staleness_s=0.05)
    spend = SpendReader(config, redis_url="redis://127.0.0.1:1/0")
    command = CountingCommand("10")
    spend._reader = _reader(command)
    assert (await spend.aread()).state == "ok"
    await asyncio.sleep(0.1)  # no refresh within the limit (refresh_s 60): the figure is now too old
    status = await spend.aread()
    assert status.state == "stale" and status.blocks_cloud and "non-local tiers disabled" in status.reason()
    spend._reader.stop()
