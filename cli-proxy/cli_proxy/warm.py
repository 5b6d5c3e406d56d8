"""Warm workers: CLI processes started ahead of their request, waiting for the prompt on stdin.

A pool per model, argument set and account (the CLI, its executable and model flag, the login it runs with; a
request with a system prompt, which is passed at start, never uses one). A request takes one waiting process,
which serves it and ends: no process serves two requests, so no conversation carries over. Taking one (or finding
none) starts new ones behind it, up to the configured size. A process that waited longer than its idle lifetime is
stopped and not replaced until the next request for its pool. Each process has its own empty working directory
and state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cli_proxy.runner import CliRun

WARM_SLOT_BASE = 1000  # state directories worker-1000... (request slots use worker-0...)


@dataclass(frozen=True)
class PoolKey:
    cli: str
    executable: str
    model_flag: str | None
    account: str = "default"  # a warm worker runs with one account's login, and serves only that account


@dataclass
class WarmWorker:
    key: PoolKey
    run: CliRun
    scratch: Path  # its working directory's parent; removed when the worker is done
    slot: int
    started_at: float


Spawner = Callable[[PoolKey, int], Awaitable[WarmWorker | None]]
Observer = Callable[[str, str], None]  # (cli, "hit" | "miss")


class WarmPools:
    def __init__(self, sizes: dict[str, int], lifetimes: dict[str, float], spawn: Spawner, observe: Observer) -> None:
        self.sizes, self.lifetimes = sizes, lifetimes
        self._spawn, self._observe = spawn, observe
        self._idle: dict[PoolKey, deque[WarmWorker]] = {}
        self._starting: dict[PoolKey, int] = {}
        self._slots: dict[str, set[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def enabled(self, cli: str) -> bool:
        return self.sizes.get(cli, 0) > 0 and not self._closed

    def waiting(self, cli: str) -> int:
        return sum(len(workers) for key, workers in self._idle.items() if key.cli == cli)

    def take(self, key: PoolKey) -> WarmWorker | None:
        """A live waiting worker for `key` (a hit), or None (a miss); either way the pool refills behind it."""
        workers = self._idle.setdefault(key, deque())
        taken = None
        while workers and taken is None:
            worker = workers.popleft()
            if worker.run.alive and time.monotonic() - worker.started_at < self.lifetimes[key.cli]:
                taken = worker
            else:
                self._later(self.discard(worker))
        self._observe(key.cli, "hit" if taken else "miss")
        self._later(self._refill(key))
        return taken

    async def _refill(self, key: PoolKey) -> None:
        workers = self._idle.setdefault(key, deque())
        while not self._closed and len(workers) + self._starting.get(key, 0) < self.sizes[key.cli]:
            slot = self._free_slot(key.cli)
            self._starting[key] = self._starting.get(key, 0) + 1
            try:
                worker = await self._spawn(key, slot)
            finally:
                self._starting[key] -= 1
            if worker is None:
                self._slots[key.cli].discard(slot)
                return  # the CLI cannot start now: the next request starts cold and tries again
            if self._closed:
                await self.discard(worker)
                return
            workers.append(worker)
            asyncio.get_running_loop().call_later(self.lifetimes[key.cli], self._expire, key, worker)

    def drop_account(self, cli: str, account: str) -> None:
        """Stop the workers waiting for an account that cannot answer now (used up, logged out)."""
        for key, workers in self._idle.items():
            if key.cli == cli and key.account == account:
                while workers:
                    self._later(self.discard(workers.popleft()))

    def _free_slot(self, cli: str) -> int:
        used = self._slots.setdefault(cli, set())
        slot = next(n for n in range(WARM_SLOT_BASE, WARM_SLOT_BASE + len(used) + 1) if n not in used)
        used.add(slot)
        return slot

    def _expire(self, key: PoolKey, worker: WarmWorker) -> None:
        workers = self._idle.get(key)
        if workers is not None and worker in workers:
            workers.remove(worker)
            self._later(self.discard(worker))

    async def discard(self, worker: WarmWorker) -> None:
        """Stop a worker's process group and remove its directory (after it served, or unused)."""
        try:
            await worker.run.close()
        finally:
            shutil.rmtree(worker.scratch, ignore_errors=True)
            self._slots.get(worker.key.cli, set()).discard(worker.slot)

    def _later(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop every waiting process and every start under way (the service is stopping)."""
        self._closed = True  # starts under way see it and stop what they started
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await asyncio.sleep(0)  # let the done callbacks leave the set
        for workers in self._idle.values():
            while workers:
                with contextlib.suppress(Exception):
                    await self.discard(workers.popleft())
