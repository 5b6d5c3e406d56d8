"""Steady paced load through the real OpenAI SDK (its own retries: connection errors, 408/409/429/5xx, with an
exponential back-off from 0.5 s), a third of it streamed: what a client of the gateway does while services die."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import openai

MODELS = ("max-auto", "max-buddy", "max-genius")
MAX_RETRIES = 3  # 0.5, 1, 2 s between tries (the SDK's back-off, with its jitter)


class StreamCut(Exception):
    """A stream that broke after its answer had begun: no SDK retries that (the client has part of an answer)."""

    def __init__(self, at: float) -> None:
        super().__init__(f"stream cut at {at:.3f}")
        self.at = at


@dataclass
class SdkLoad:
    answered: int = 0
    failures: Counter = field(default_factory=Counter)  # "<stream|plain> <exception class>: <first words>"
    retried: int = 0  # answers that needed at least one retry (read from the SDK's retry header)
    cut_streams: list[float] = field(default_factory=list)  # when each begun stream broke (time.time())

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str:
        return (
            f"{self.answered} answered ({self.retried} after a retry), {self.failed} failed {dict(self.failures)}, "
            f"{len(self.cut_streams)} streams cut after they began"
        )


class _RetryCounter(httpx.AsyncBaseTransport):
    """Counts the SDK's retries (it sends x-stainless-retry-count on each try) without changing them."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.retries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("x-stainless-retry-count", "0") != "0":
            self.retries += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _ask(client: openai.AsyncOpenAI, model: str, text: str, stream: bool) -> None:
    messages = [{"role": "user", "content": text}]
    if not stream:
        answer = await client.chat.completions.create(model=model, messages=messages)
        if not answer.choices or answer.choices[0].message.content is None:
            raise ValueError("an answer without content")
        return
    chunks = await client.chat.completions.create(model=model, messages=messages, stream=True)
    finished = False
    try:
        async for chunk in chunks:
            finished = finished or any(choice.finish_reason for choice in chunk.choices)
    except (openai.APIConnectionError, httpx.HTTPError) as exc:
        raise StreamCut(time.time()) from exc
    if not finished:
        raise ValueError("a stream that ended without a finish reason")


async def _client_loop(base_url: str, key: str, load: SdkLoad, stop: asyncio.Event, number: int, pause: float) -> None:
    transport = _RetryCounter()
    http = httpx.AsyncClient(transport=transport, timeout=30.0)
    client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=MAX_RETRIES, http_client=http)
    i = 0
    try:
        while not stop.is_set():
            model, stream = MODELS[i % len(MODELS)], i % 3 == number % 3
            before = transport.retries
            try:
                await _ask(client, model, f"client {number} question {i}", stream)
                load.answered += 1
                load.retried += transport.retries > before
            except StreamCut as cut:
                load.cut_streams.append(cut.at)
            except (openai.OpenAIError, httpx.HTTPError, ValueError) as exc:
                load.failures[f"{'stream' if stream else 'plain'} {type(exc).__name__}: {str(exc)[:60]}"] += 1
            i += 1
            await asyncio.sleep(pause)
    finally:
        await client.close()


async def run_clients(base_url: str, key: str, clients: int, stop: asyncio.Event, pause: float = 0.05) -> SdkLoad:
    """`clients` SDK clients asking in turn until `stop` is set; each request ends before they return."""
    load = SdkLoad()
    started = time.monotonic()
    await asyncio.gather(*(_client_loop(base_url, key, load, stop, n, pause) for n in range(clients)))
    print(f"load: {load.summary()} in {time.monotonic() - started:.0f} s")
    return load
