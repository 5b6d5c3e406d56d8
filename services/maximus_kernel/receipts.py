"""Receipts: the gateway's edge holds an answer's last bytes until the tracker's callback says the request's
event is on disk (tracker.journal), so that an answer a client has whole is never missing from the counts.

The callback notes a call id once its event is journaled; the edge waits for that note, bounded. Both run in the
gateway process; a note may come before the edge asks (a non-streamed answer is often journaled first), so notes
are kept for a while, bounded in number.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict

KEPT_NOTES = 10_000


class Receipts:
    def __init__(self, kept: int = KEPT_NOTES) -> None:
        self.kept = kept
        self._noted: OrderedDict[str, None] = OrderedDict()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._lock = threading.Lock()  # LiteLLM may call a logger from a worker thread

    def note(self, call_id: str) -> None:
        with self._lock:
            waiter = self._waiting.get(call_id)
            if waiter is None:
                self._noted[call_id] = None
                while len(self._noted) > self.kept:
                    self._noted.popitem(last=False)
                return
        loop, event = waiter
        loop.call_soon_threadsafe(event.set)

    async def wait(self, call_id: str, timeout_s: float) -> bool:
        """Whether `call_id`'s event was journaled within `timeout_s`."""
        event = asyncio.Event()
        with self._lock:
            if call_id in self._noted:
                del self._noted[call_id]
                return True
            self._waiting[call_id] = (asyncio.get_running_loop(), event)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiting.pop(call_id, None)


receipts = Receipts()
