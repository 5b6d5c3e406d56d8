"""A value read from Redis at most every refresh_s seconds: the one mechanism behind the budget and health guards.

Each reader keeps its own sync and async clients (a sync client is never awaited), and a failed read gives the
fallback: a guard whose source is unreachable must never fail a request."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ThrottledRedisRead(Generic[T]):
    def __init__(
        self,
        url: str,
        refresh_s: float,
        client_kwargs: Mapping[str, Any],
        command: Callable[[Any], Any],
        parse: Callable[[Any], T],
        fallback: T,
    ) -> None:
        """`command(client)` issues the Redis call (the async client returns an awaitable); `parse` reads its reply."""
        self.url = url
        self.refresh_s = refresh_s
        self.client_kwargs = dict(client_kwargs)
        self.command = command
        self.parse = parse
        self.fallback = fallback
        self._value = fallback
        self._read_at = -1e18
        self._sync: Any = None
        self._async: Any = None

    def _due(self) -> bool:
        if time.monotonic() - self._read_at < self.refresh_s:
            return False
        self._read_at = time.monotonic()  # one reader at a time; the others use the last value
        return True

    def read(self) -> T:
        if self._due():
            import redis

            try:
                if self._sync is None:
                    self._sync = redis.Redis.from_url(self.url, **self.client_kwargs)
                self._value = self.parse(self.command(self._sync))
            except (redis.RedisError, OSError, ValueError):
                self._value = self.fallback
        return self._value

    async def aread(self) -> T:
        if self._due():
            import redis
            import redis.asyncio as aredis

            try:
                if self._async is None:
                    self._async = aredis.Redis.from_url(self.url, **self.client_kwargs)
                self._value = self.parse(await self.command(self._async))
            except (redis.RedisError, OSError, ValueError):
                self._value = self.fallback
        return self._value
