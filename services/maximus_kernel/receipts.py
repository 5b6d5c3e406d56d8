"""The hand-over of an answer's event from the tracker's callback to the gateway's edge, so that the event is
recorded once the client has the whole answer, and only then.

The edge expects each model call under the call id it gave the request. When the callback makes that call's
closing event, it hands the recording over instead of recording it; the edge sends the answer's end and then
records it (tracker.journal puts it on disk at once). A process killed before the end went out loses the event,
and its client retries (one answer, one count); killed after, the event is on disk (another process replays
it). The edge waits for the hand-over before the end, bounded: an event that comes later is recorded by the
callback itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Record = Callable[[], None]


@dataclass
class _Call:
    loop: asyncio.AbstractEventLoop
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    record: Record | None = None


class Receipts:
    def __init__(self) -> None:
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()  # LiteLLM may run a logger off the event loop

    def expect(self, call_id: str) -> None:
        """The edge serves `call_id` and will record its event (called on the event loop)."""
        with self._lock:
            self._calls[call_id] = _Call(asyncio.get_running_loop())

    def hand_over(self, call_id: str, record: Record) -> bool:
        """The callback's closing event of `call_id`: False when the edge does not expect it (record it now)."""
        with self._lock:
            call = self._calls.get(call_id)
            if call is None or call.record is not None:
                return False
            call.record = record
        call.loop.call_soon_threadsafe(call.ready.set)
        return True

    async def wait(self, call_id: str, timeout_s: float) -> bool:
        """Whether `call_id`'s event was handed over within `timeout_s`."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        try:
            await asyncio.wait_for(call.ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def finish(self, call_id: str) -> None:
        """The answer went out (or never will): record its event if it was handed over, and forget the call."""
        with self._lock:
            call = self._calls.pop(call_id, None)
        if call is not None and call.record is not None:
            call.record()

    def __len__(self) -> int:
        return len(self._calls)


receipts = Receipts()
