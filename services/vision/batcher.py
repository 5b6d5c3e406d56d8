"""Dynamic batching: concurrent inputs of the same shape go through the model together.

One worker thread owns the device. A batch closes when it holds `max_batch` inputs or when its first input
has waited `max_wait` seconds; inputs of another shape wait for the next batch. Each input's result is the
same as if it had been run alone (row-independent inference).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

RunBatch = Callable[[torch.Tensor], Sequence[Any]]
OnBatch = Callable[[int, float], None]


class QueueFull(RuntimeError):
    """More inputs are waiting than the configured bound."""


@dataclass
class _Item:
    clip: torch.Tensor
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    def __init__(
        self, run_batch: RunBatch, max_batch: int, max_wait_s: float, max_queue: int, on_batch: OnBatch | None = None
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._max_wait = max_wait_s
        self._max_queue = max_queue
        self._on_batch = on_batch
        self._pending: deque[_Item] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vision-gpu")

    @property
    def depth(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="vision-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(RuntimeError("vision service is shutting down"))
        self._pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, clip: torch.Tensor) -> Any:
        """Queue one clip (T, 3, H, W) and wait for its result."""
        if self._task is None or self._wakeup is None:
            raise RuntimeError("batcher is not started")
        if len(self._pending) >= self._max_queue:
            raise QueueFull(f"{len(self._pending)} inputs are already waiting")
        item = _Item(clip, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self._wakeup.set()
        return await item.future

    def _take_batch(self) -> list[_Item]:
        """The oldest live input and up to max_batch - 1 later ones of the same shape."""
        while self._pending and self._pending[0].future.done():  # cancelled by a gone client
            self._pending.popleft()
        if not self._pending:
            return []
        shape = self._pending[0].clip.shape
        batch, rest = [], deque()
        for item in self._pending:
            if item.future.done():
                continue
            if item.clip.shape == shape and len(batch) < self._max_batch:
                batch.append(item)
            else:
                rest.append(item)
        self._pending = rest
        return batch

    def _ready_to_run(self) -> float:
        """Seconds still to wait for more inputs, or 0 when the oldest batch should run now."""
        if not self._pending:
            return self._max_wait
        first = self._pending[0]
        same = sum(1 for item in self._pending if item.clip.shape == first.clip.shape)
        if same >= self._max_batch:
            return 0.0
        return max(0.0, first.queued_at + self._max_wait - time.monotonic())

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            delay = self._ready_to_run()
            if delay > 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                continue
            batch = self._take_batch()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                stacked = torch.stack([item.clip for item in batch])
                results = await loop.run_in_executor(self._executor, self._run_batch, stacked)
            except Exception as exc:  # the model failed: every waiter hears about it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            if self._on_batch:
                self._on_batch(len(batch), time.perf_counter() - started)
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
