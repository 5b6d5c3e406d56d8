"""A value read from Redis in the background: the one mechanism behind the budget and health guards.

A request never waits on Redis: an asyncio task (started on first use, in the proxy's event loop) re-reads the
value every refresh_s seconds and requests take the last value read, with its age. Only the very first request
after start waits, at most wait_first_s, for the first read. A failed read either keeps the last value (the
budget: "use the last known figure", its age tells how stale) or gives the fallback (health: unreachable
means no information). Each reader keeps its own sync and async clients (a sync client is never awaited)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")
MIN_PERIOD_S = 0.05  # the background loop never spins faster than this


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError, ValueError, asyncio.TimeoutError)


class BackgroundRedisRead(Generic[T]):
    def __init__(
        self,
        url: str,
        refresh_s: float,
        client_kwargs: Mapping[str, Any],
        command: Callable[[Any], Any],
        parse: Callable[[Any], T],
        fallback: T,
        keep_last_on_error: bool = False,
    ) -> None:
        """`command(client)` issues the Redis call (the async client returns an awaitable); `parse` reads its reply."""
        self.url = url
        self.refresh_s = refresh_s
        self.client_kwargs = dict(client_kwargs)
        self.command = command
        self.parse = parse
        self.fallback = fallback
        self.keep_last_on_error = keep_last_on_error
        self._value = fallback
        self._read_at: float | None = None  # monotonic time of the last successful read
        self._created_at = time.monotonic()
        self._sync_attempt_at: float | None = None
        self._sync: Any = None
        self._async: Any = None
        self._task: asyncio.Task | None = None
        self._first_done: asyncio.Event | None = None

    @property
    def value(self) -> T:
        return self._value

    def age(self, now: float | None = None) -> float | None:
        """Seconds since the last successful read; None when no read ever succeeded."""
        return None if self._read_at is None else (time.monotonic() if now is None else now) - self._read_at

    def since_start(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self._created_at

    def _store(self, reply: Any) -> None:
        self._value = self.parse(reply)
        self._read_at = time.monotonic()

    def _failed(self) -> None:
        if not self.keep_last_on_error:
            self._value = self.fallback

    # -- synchronous, for the command line (`maximus route`): read at most every refresh_s seconds -------------
    def read(self) -> T:
        import redis

        now = time.monotonic()
        if self._sync_attempt_at is not None and now - self._sync_attempt_at < self.refresh_s:
            return self._value
        self._sync_attempt_at = now
        try:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self.url, **self.client_kwargs)
            self._store(self.command(self._sync))
        except _redis_errors():
            self._failed()
        return self._value

    # -- asynchronous, for the proxy: a background refresher ------------------------------------------------------
    async def refresh(self) -> None:
        """One read from the event loop (the background task's step; tests call it directly)."""
        import redis.asyncio as aredis

        try:
            if self._async is None:
                self._async = aredis.Redis.from_url(self.url, **self.client_kwargs)
            self._store(await self.command(self._async))
        except _redis_errors():
            self._failed()

    async def _run(self, first_done: asyncio.Event) -> None:
        while True:
            await self.refresh()
            first_done.set()
            await asyncio.sleep(max(self.refresh_s, MIN_PERIOD_S))

    def start(self) -> asyncio.Event:
        """Start the refresher in the running loop (once; again if it died or the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._first_done = asyncio.Event()
            self._async = None  # a client belongs to the loop it was made in
            self._task = loop.create_task(self._run(self._first_done))
        assert self._first_done is not None
        return self._first_done

    async def latest(self, wait_first_s: float) -> T:
        """The last value read; only before the first read ever finished, wait for it (at most wait_first_s).
        refresh_s 0 means "read on every request" (tests that change a key between two requests)."""
        if self.refresh_s <= 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.refresh(), max(wait_first_s, MIN_PERIOD_S))
            return self._value
        first_done = self.start()
        if self._read_at is None and not first_done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(first_done.wait()), wait_first_s)
        return self._value

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
