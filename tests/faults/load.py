"""Bounded concurrent load against the proxy on loopback, with the figures the fault tests assert."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.stack import LiteLLMProxy


@dataclass
class Answer:
    kind: str
    status: int
    tier: str | None
    content: str
    seconds: float


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(a.status == 200 for a in self.answers)

    def statuses(self, kind: str | None = None) -> Counter:
        return Counter(a.status for a in self.answers if kind is None or a.kind == kind)

    def summary(self) -> str:
        by_kind = Counter((a.kind, a.status) for a in self.answers)
        return f"{self.answered}/{len(self.answers)} answered; {dict(by_kind)}"


def chat(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


async def _one(client: httpx.AsyncClient, proxy: LiteLLMProxy, kind: str, body: dict[str, Any]) -> Answer:
    started = time.monotonic()
    response = await client.post(f"{proxy.openai_base_url}/chat/completions", json=body, headers=proxy.headers())
    content = ""
    if response.status_code == 200:
        content = response.json()["choices"][0]["message"]["content"] or ""
    tier = response.headers.get("x-maximus-tier")
    return Answer(kind, response.status_code, tier, content, time.monotonic() - started)


async def run_load(
    proxy: LiteLLMProxy, requests: Sequence[tuple[str, dict[str, Any]]], concurrency: int, timeout: float = 60.0
) -> LoadResult:
    """Every request once, at most `concurrency` in flight."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=timeout) as client:

        async def bounded(kind: str, body: dict[str, Any]) -> Answer:
            async with gate:
                return await _one(client, proxy, kind, body)

        answers = await asyncio.gather(*(bounded(kind, body) for kind, body in requests))
    return LoadResult(list(answers))


async def run_for(
    proxy: LiteLLMProxy, make: Any, seconds: float, concurrency: int, timeout: float = 60.0
) -> LoadResult:
    """`concurrency` workers sending `make(i)` (kind, body) back to back for `seconds`."""
    result = LoadResult()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))
    async with httpx.AsyncClient(timeout=timeout) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                kind, body = make(next(counter))
                result.answers.append(await _one(client, proxy, kind, body))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result
