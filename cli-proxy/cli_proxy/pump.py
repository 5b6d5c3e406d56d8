"""Read a CLI's event stream in its own task, so that waits can time out (keep-alives, disconnect checks)
without cancelling the CLI; closing the pump kills the process group. Plus the streaming response that
closes its pump whatever way the response ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from cli_proxy.events import Event, Failure, FailureKind

log = logging.getLogger("cli_proxy")


class _Timeout:
    pass


TIMEOUT = _Timeout()


class Pump:
    def __init__(self, events: AsyncGenerator[Event, None]) -> None:
        self._events = events
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._events:
                self._queue.put_nowait(event)
        except Exception as exc:  # a bug must not look like an empty answer
            log.exception("CLI event stream failed")
            self._queue.put_nowait(Failure(FailureKind.CRASH, f"internal error ({type(exc).__name__})"))
        finally:
            await self._events.aclose()
            self._queue.put_nowait(None)

    async def next(self, timeout_s: float) -> Event | _Timeout | None:
        """The next event; None at the end; TIMEOUT when nothing came within `timeout_s`."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return TIMEOUT

    async def close(self) -> None:
        """Stop reading; the generator's cleanup kills the CLI's process group. Safe to call twice."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class ClosingStream(StreamingResponse):
    """Streams `content`; stops when the client disconnects; always awaits `on_close` at the end."""

    def __init__(
        self,
        content: AsyncIterable[bytes],
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                group.start_soon(watch)
        finally:
            with anyio.CancelScope(shield=True):
                await self._on_close()
