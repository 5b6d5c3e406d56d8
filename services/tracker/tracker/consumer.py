"""Consumes the event stream with a consumer group (at-least-once) and counts each request once.

Per entry, one Lua script (tracker.totals.APPLY_SCRIPT) drops a redelivered event, updates the durable
totals and acknowledges the entry in one atomic step. The audit line is written before that step, so a
crash in between repeats a line (same call_id) rather than losing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from maximus_kernel.exception_text import describe
from tracker.accounting import Resolved, increments, resolve, script_args
from tracker.audit import AuditLog
from tracker.events import AttemptEvent, InvalidEvent
from tracker.metrics import TrackerMetrics
from tracker.settings import Settings
from tracker.totals import (
    APPLY_SCRIPT,
    CALL_PREFIX,
    HOUR_TTL_S,
    RECENT_KEY,
    SEEN_PREFIX,
    TOTALS_KEY,
    hour_key,
    month_key,
)

log = logging.getLogger("tracker.consumer")
BATCH = 500
CLAIM_IDLE_MS = 60_000


def _one_result_per_entry(parsed: list[tuple[str, Resolved | None]], results: list[Any]) -> list[Any]:
    """An invalid entry queued two commands (XACK, XDEL): keep the first reply of each entry."""
    out, position = [], 0
    for _, r in parsed:
        out.append(results[position])
        position += 1 if r is not None else 2
    return out


class Consumer:
    def __init__(
        self,
        client: aioredis.Redis,
        settings: Settings,
        tier_map: Mapping[str, str],
        metrics: TrackerMetrics,
        audit: AuditLog,
        name: str,
    ) -> None:
        self.client = client
        self.settings = settings
        self.tier_map = tier_map
        self.metrics = metrics
        self.audit = audit
        self.name = name
        self.script = client.register_script(APPLY_SCRIPT)
        self.running = False
        self.counted = 0

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.settings.stream, self.settings.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        """Forever: re-read own pending entries, claim stalled ones, then new ones; survive Redis restarts."""
        while True:
            try:
                await self.ensure_group()
                self.running = True
                await self._drain_pending()
                while True:
                    await self._claim_stalled()
                    await self._read_new()
            except (RedisError, OSError) as exc:
                self.running = False
                log.warning("Redis unavailable (%s); retrying", describe(exc))
                await asyncio.sleep(0.5)
            except Exception:
                self.running = False
                log.exception("consumer step failed; retrying (entries stay pending until acknowledged)")
                await asyncio.sleep(1.0)

    async def _drain_pending(self) -> None:
        while await self._read("0", block=None):
            pass

    async def _read_new(self) -> None:
        await self._read(">", block=1000)

    async def _read(self, start: str, block: int | None) -> int:
        reply = await self.client.xreadgroup(
            self.settings.group, self.name, {self.settings.stream: start}, count=BATCH, block=block
        )
        entries = reply[0][1] if reply else []
        trimmed = [entry_id for entry_id, fields in entries if not fields]  # deleted by MAXLEN while pending
        if trimmed:
            await self.client.xack(self.settings.stream, self.settings.group, *trimmed)
            await self.client.xdel(self.settings.stream, *trimmed)
        entries = [(entry_id, fields) for entry_id, fields in entries if fields]
        if entries:
            await self.process(entries)
        return len(entries)

    async def _claim_stalled(self) -> None:
        with contextlib.suppress(ResponseError):
            reply = await self.client.xautoclaim(
                self.settings.stream,
                self.settings.group,
                self.name,
                min_idle_time=CLAIM_IDLE_MS,
                start_id="0-0",
                count=BATCH,
            )
            entries = [(i, f) for i, f in (reply[1] if reply else []) if f]
            if entries:
                await self.process(entries)

    async def process(self, entries: list[tuple[Any, Mapping[Any, Any]]]) -> None:
        parsed: list[tuple[str, Resolved | None]] = []
        for entry_id, fields in entries:
            entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            try:
                event = AttemptEvent.from_fields(dict(fields))
                parsed.append((entry, resolve(event, self.settings, self.tier_map)))
            except InvalidEvent as exc:
                log.warning("dropping invalid stream entry %s: %s", entry, exc)
                parsed.append((entry, None))
        await self._audit_new_requests([r for _, r in parsed if r is not None and r.counts_request])
        pipe = self.client.pipeline(transaction=False)
        for entry, r in parsed:
            if r is None:
                pipe.xack(self.settings.stream, self.settings.group, entry)
                pipe.xdel(self.settings.stream, entry)
            else:
                await self._queue_apply(pipe, entry, r)
        results = await pipe.execute()
        self._observe(parsed, _one_result_per_entry(parsed, results))

    async def _audit_new_requests(self, requests: list[Resolved]) -> None:
        """Write the audit line of each request not yet counted (before the counting step)."""
        unique = list({r.event.call_id: r for r in requests}.values())
        if not unique:
            return
        pipe = self.client.pipeline(transaction=False)
        for r in unique:
            pipe.exists(CALL_PREFIX + r.event.call_id)
        for r, exists in zip(unique, await pipe.execute(), strict=True):
            if not exists:
                self.audit.add(r)
        self.audit.flush()

    async def _queue_apply(self, pipe: Any, entry: str, r: Resolved) -> None:
        e = r.event
        keys = [
            self.settings.stream,
            TOTALS_KEY,
            month_key(e.ts),
            hour_key(e.ts),
            SEEN_PREFIX + e.event_id,
            CALL_PREFIX + e.call_id,
            RECENT_KEY,
        ]
        args = script_args(
            increments(r),
            self.settings.group,
            entry,
            self.settings.dedupe_ttl_s,
            HOUR_TTL_S,
            r.counts_request,
            self.settings.sovereignty_window,
        )
        await self.script(keys=keys, args=args, client=pipe)  # queues EVALSHA on the pipeline

    def _observe(self, parsed: list[tuple[str, Resolved | None]], results: list[Any]) -> None:
        for (_, r), result in zip(parsed, results, strict=True):
            if r is None:
                self.metrics.events.labels("invalid").inc()
            elif result == 0:
                self.metrics.events.labels("duplicate").inc()
            else:
                if result == 2:
                    self.metrics.observe_request(r)
                    self.counted += 1
                self.metrics.events.labels("counted" if result == 2 else "applied").inc()
