"""What each local model can do, as Ollama says: the `capabilities` list of POST /api/show (Ollama 0.12.6:
completion, tools, insert, vision, embedding, thinking; docs/reference/ollama.md).

The live hook never asks Ollama per request: a background task (started on first use, in the proxy's event loop,
like router.redis_reads) re-reads /api/show for each local model every `capabilities.refresh_s` and requests take
the last snapshot. A model Ollama does not have (404: not pulled) has no capabilities; while Ollama cannot be read
at all, the snapshot is None and routing does not filter on capabilities (the local tier's own error answers).
No framework imports: `maximus route` and the tests use the same snapshot type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

log = logging.getLogger("maximus.router")

MIN_PERIOD_S = 0.05


@dataclass(frozen=True)
class LocalModels:
    """One snapshot: each local model group's Ollama model, and each model's capabilities."""

    models: Mapping[str, str]  # group (max-buddy) -> Ollama model (gemma3)
    capabilities: Mapping[str, frozenset[str]]  # Ollama model -> its capabilities (empty: not pulled)

    def model_of(self, group: str) -> str | None:
        return self.models.get(group)

    def can(self, group: str, needs: Iterable[str]) -> bool:
        model = self.models.get(group)
        return model is not None and frozenset(needs) <= self.capabilities.get(model, frozenset())

    def first_serving(self, groups: Iterable[str], needs: Iterable[str]) -> str | None:
        """The first of `groups` whose model has every capability in `needs`."""
        needed = frozenset(needs)
        return next((group for group in groups if self.can(group, needed)), None)


def ollama_model_name(litellm_model: str) -> str | None:
    """gemma3 from LiteLLM's `ollama_chat/gemma3` (or `ollama/gemma3`); None for another provider."""
    provider, _, name = litellm_model.partition("/")
    return name if provider in ("ollama_chat", "ollama") and name else None


async def show(client: httpx.AsyncClient, base_url: str, model: str) -> frozenset[str] | None:
    """The model's capabilities; an empty set when Ollama does not have it; None when Ollama did not answer."""
    try:
        response = await client.post(f"{base_url.rstrip('/')}/api/show", json={"model": model})
    except httpx.HTTPError:
        return None
    if response.status_code == 404:
        return frozenset()
    if response.status_code != 200:
        return None
    try:
        listed = response.json().get("capabilities")
    except (ValueError, AttributeError):
        return None
    if not isinstance(listed, list):
        # Ollama before capabilities (0.6): every chat model completes; nothing else is known.
        return frozenset({"completion"})
    return frozenset(str(c) for c in listed)


class CapabilityReader:
    """The background reader of the local models' capabilities."""

    def __init__(self, base_url: str, models: Mapping[str, str], refresh_s: float, timeout_s: float) -> None:
        self.base_url = base_url
        self.models = dict(models)
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self._snapshot: LocalModels | None = None
        self._task: asyncio.Task | None = None
        self._first_done: asyncio.Event | None = None

    @property
    def snapshot(self) -> LocalModels | None:
        return self._snapshot

    async def refresh(self) -> None:
        """One read of every local model (the background task's step; tests call it directly)."""
        names = sorted(set(self.models.values()))
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            found = await asyncio.gather(*(show(client, self.base_url, name) for name in names))
        if any(caps is None for caps in found):
            return  # Ollama away (or answering errors): keep the last snapshot, or none
        snapshot = LocalModels(self.models, dict(zip(names, found, strict=True)))
        if snapshot != self._snapshot:
            log.info("local model capabilities: %s", {m: sorted(c) for m, c in snapshot.capabilities.items()})
        self._snapshot = snapshot

    async def _run(self, first_done: asyncio.Event) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # advisory: a failed read never stops the loop
                log.debug("capability read failed: %s", type(exc).__name__)
            first_done.set()
            await asyncio.sleep(max(self.refresh_s, MIN_PERIOD_S))

    def start(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._first_done = asyncio.Event()
            self._task = loop.create_task(self._run(self._first_done))
        assert self._first_done is not None
        return self._first_done

    async def latest(self, wait_first_s: float) -> LocalModels | None:
        """The last snapshot; only before the first read finished, wait for it (at most wait_first_s)."""
        first_done = self.start()
        if self._snapshot is None and not first_done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(first_done.wait()), wait_first_s)
        return self._snapshot

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
