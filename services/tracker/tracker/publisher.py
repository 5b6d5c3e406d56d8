"""Publishes events to the Redis stream off the request path: a bounded in-memory queue drained by a
background task; while Redis is unreachable, events go to the local spool and are replayed later.

`publish()` never waits on the network: it writes the event to this process's journal (tracker.journal) and puts
it on the queue, or, when the queue is full, appends it to the spool file. Either way the event is on disk when
`publish()` returns: a process killed then loses nothing (another process replays its journal). No LiteLLM import
here.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from maximus_kernel.exception_text import describe
from tracker.events import AttemptEvent
from tracker.journal import Journal
from tracker.spool import Spool

log = logging.getLogger("tracker.publisher")
BATCH = 500
CLOSE_TIMEOUT_S = 2.0


class EventPublisher:
    def __init__(
        self,
        redis_url: str,
        stream: str,
        spool_dir: Path,
        *,
        maxlen: int = 1_000_000,
        queue_size: int = 10_000,
        retry_interval_s: float = 1.0,
    ) -> None:
        self.redis_url = redis_url
        self.stream = stream
        self.maxlen = maxlen
        self.queue_size = queue_size
        self.retry_interval_s = retry_interval_s
        self.spool = Spool(spool_dir)
        self.journal = Journal(Path(spool_dir) / "journal")
        self.published = 0
        self.spooled = 0
        self._queue: asyncio.Queue[AttemptEvent] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._redis: aioredis.Redis | None = None
        self._inflight: list[AttemptEvent] = []
        self._next_replay = 0.0
        self._next_recovery = 0.0  # journals of dead processes are looked for at start, then every retry interval
        atexit.register(self.spool_unsent)

    # ---- request path -------------------------------------------------------------------------
    def publish(self, event: AttemptEvent) -> None:
        queue = self._ensure_running()
        if queue is None:
            self.spooled += self.spool.append([event])
            return
        if queue.full():
            self.spooled += self.spool.append([event])
            return
        try:
            self.journal.record(event)
        except OSError as exc:
            log.warning("journal not writable (%s): spooling the event", describe(exc))
            self.spooled += self.spool.append([event])
            return
        queue.put_nowait(event)

    def _ensure_running(self) -> asyncio.Queue[AttemptEvent] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if self._loop is not loop or self._task is None or self._task.done():
            if self._loop is not loop and self._queue is not None:
                self.spool_unsent()  # a previous loop's leftovers must not be lost
            self._loop, self._queue, self._redis = loop, asyncio.Queue(self.queue_size), None
            self._task = loop.create_task(self._run(), name="maximus-event-publisher")
        return self._queue

    # ---- background task ----------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._next_batch(self._queue)
            if time.monotonic() >= self._next_recovery:
                self._recover()
            if self.spool.has_pending() and time.monotonic() >= self._next_replay:
                await self._replay()
            if batch:
                await self._deliver(batch)

    async def _next_batch(self, queue: asyncio.Queue[AttemptEvent]) -> list[AttemptEvent]:
        try:
            first = await asyncio.wait_for(queue.get(), timeout=self.retry_interval_s)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < BATCH and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(
                self.redis_url, socket_connect_timeout=1.0, socket_timeout=2.0, retry=Retry(NoBackoff(), 0)
            )
        return self._redis

    async def _xadd(self, events: list[AttemptEvent]) -> None:
        pipe = self._client().pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, event.to_fields(), maxlen=self.maxlen, approximate=True)
        await pipe.execute()

    def _recover(self) -> None:
        """Journals of gateway processes that died go to the spool, which replays them."""
        self._next_recovery = time.monotonic() + self.retry_interval_s
        try:
            self.journal.recover(self.spool)
        except OSError as exc:
            log.warning("could not recover a journal (%s); trying again later", describe(exc))

    async def _deliver(self, batch: list[AttemptEvent]) -> None:
        self._inflight = batch
        if self.spool.has_pending():
            # Redis is (or was just) unreachable: keep arrival order behind what waits in the spool.
            self.spooled += self.spool.append(batch)
        else:
            try:
                await self._xadd(batch)
                self.published += len(batch)
            except (RedisError, OSError) as exc:
                log.warning("Redis unreachable (%s): spooling %d events", describe(exc), len(batch))
                self.spooled += self.spool.append(batch)
                self._next_replay = time.monotonic() + self.retry_interval_s
        self.journal.settle(len(batch))
        self._inflight = []

    async def _replay(self) -> None:
        for path in self.spool.claim():
            events = self.spool.read(path)
            try:
                for start in range(0, len(events), BATCH):
                    await self._xadd(events[start : start + BATCH])
            except (RedisError, OSError):
                self._next_replay = time.monotonic() + self.retry_interval_s
                return  # the claimed file stays and is sent again next time
            self.spool.done(path)
            self.published += len(events)
            log.info("replayed %d spooled events", len(events))

    # ---- shutdown and tests -------------------------------------------------------------------
    def spool_unsent(self) -> None:
        """Write what is still queued or in flight to the spool (at exit, or when the loop changed)."""
        pending = list(self._inflight)
        self._inflight = []
        if self._queue is not None:
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
        with contextlib.suppress(OSError):
            self.spooled += self.spool.append(pending)
            self.journal.settle_all()

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until the queue is empty and the spool replayed (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            idle = (self._queue is None or self._queue.empty()) and not self._inflight
            if idle and not self.spool.has_pending():
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        # Bounded: shutdown must not wait on a Redis that stopped answering mid-request (its events are spooled).
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, CLOSE_TIMEOUT_S)
        self.spool_unsent()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._redis.aclose(), CLOSE_TIMEOUT_S)
        self._task, self._queue, self._loop, self._redis = None, None, None, None
