"""The CLI proxy service: OpenAI-compatible chat over the official CLIs, run headless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cli_proxy.chat import ChatRequest, build_prompt, check_supported, conversation_key
from cli_proxy.config import Settings, load_settings
from cli_proxy.errors import env_secrets, to_openai_error
from cli_proxy.events import Failure, FailureKind, Finished, TextDelta, Usage
from cli_proxy.metrics import Metrics
from cli_proxy.openai_format import SSE_DONE, SSE_KEEPALIVE, Completion, chunk, completion_body, sse
from cli_proxy.pump import TIMEOUT, ClosingStream, Pump
from cli_proxy.service import CliProxy, Target
from maximus_kernel.openai_errors import OpenAIError
from maximus_kernel.service_app import create_service_app

log = logging.getLogger("cli_proxy")
_DISCONNECT_POLL_S = 0.25


class Outcome:
    """Counts one request in the metrics exactly once, and tells readiness what it learned."""

    def __init__(self, proxy: CliProxy, target: Target) -> None:
        self.proxy, self.target = proxy, target
        self.started = time.monotonic()
        self.first_text: float | None = None
        self.text: list[str] = []
        self.usage: Usage | None = None
        self.recorded = False

    @property
    def cli(self) -> str:
        return self.target.entry.cli

    def add(self, event: TextDelta | Usage) -> None:
        if isinstance(event, TextDelta):
            if self.first_text is None:
                self.first_text = time.monotonic()
            self.text.append(event.text)
        else:
            self.usage = event

    def record(self, outcome: str, failure: Failure | None = None) -> None:
        if self.recorded:
            return
        self.recorded = True
        m, cli = self.proxy.metrics, self.cli
        m.requests.labels(cli, self.target.entry.id, outcome).inc()
        m.duration.labels(cli).observe(time.monotonic() - self.started)
        if self.first_text is not None:
            m.first_text.labels(cli).observe(self.first_text - self.started)
        if self.usage:
            m.tokens.labels(cli, "prompt").inc(self.usage.prompt_tokens)
            m.tokens.labels(cli, "completion").inc(self.usage.completion_tokens)
            if self.usage.cost_usd:
                m.cost.labels(cli).inc(self.usage.cost_usd)
        if outcome in {"client_disconnected", "timeout"}:
            m.kills.labels(cli, outcome).inc()
        if outcome == "ok":
            self.proxy.readiness.note_outcome(cli, authenticated=True)
        elif failure is not None and failure.kind is FailureKind.AUTH:
            self.proxy.readiness.note_outcome(cli, authenticated=False)
        log.info(
            "chat model=%s cli=%s outcome=%s seconds=%.3f",
            self.target.entry.id,
            cli,
            outcome,
            time.monotonic() - self.started,
        )
        if self.proxy.settings.log_content:
            log.info("chat answer model=%s: %s", self.target.entry.id, "".join(self.text))


def _failure_outcome(failure: Failure) -> str:
    return failure.kind.value


def _error_response(failure: Failure, secrets: list[str]) -> JSONResponse:
    return to_openai_error(failure, secrets).response()


async def _wait_disconnect(request: Request) -> None:
    """Returns when the client goes away (the body was already read: only a disconnect can come)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _full_reply(
    request: Request, proxy: CliProxy, target: Target, pump: Pump, completion: Completion, secrets: list[str]
) -> Response:
    outcome = Outcome(proxy, target)
    watcher = asyncio.create_task(_wait_disconnect(request))
    try:
        while True:
            event = await pump.next(_DISCONNECT_POLL_S)
            if event is TIMEOUT:
                if watcher.done():
                    outcome.record("client_disconnected")
                    return Response(status_code=499)
                continue
            if event is None or isinstance(event, Finished):
                break
            if isinstance(event, Failure):
                outcome.record(_failure_outcome(event), event)
                return _error_response(event, secrets)
            outcome.add(event)  # type: ignore[arg-type]
    finally:
        watcher.cancel()
        await pump.close()
    outcome.record("ok")
    return JSONResponse(completion_body(completion, "".join(outcome.text), outcome.usage))


async def _stream_reply(
    proxy: CliProxy, target: Target, pump: Pump, completion: Completion, secrets: list[str]
) -> Response:
    """Hold the response until the first text, the end, or `stream_commit_s`: a fast failure (not logged
    in, usage limit) gets its real HTTP status; after that, errors arrive as an SSE error event."""
    timeouts = target.adapter.settings.timeouts
    outcome = Outcome(proxy, target)
    pending: list[Any] = []
    deadline = time.monotonic() + timeouts.stream_commit_s
    while (left := deadline - time.monotonic()) > 0:
        event = await pump.next(left)
        if event is TIMEOUT:
            break
        pending.append(event)
        if isinstance(event, Failure):
            await pump.close()
            outcome.record(_failure_outcome(event), event)
            return _error_response(event, secrets)
        if event is None or isinstance(event, TextDelta | Finished):
            break
    body = _sse_body(pump, pending, outcome, completion, timeouts.keepalive_interval_s, secrets)

    async def on_close() -> None:
        await pump.close()
        outcome.record("client_disconnected")  # no-op when the stream ended and was recorded

    return ClosingStream(body, on_close, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse_body(
    pump: Pump, pending: list[Any], outcome: Outcome, completion: Completion, keepalive_s: float, secrets: list[str]
) -> AsyncIterator[bytes]:
    role_sent = False
    while True:
        event = pending.pop(0) if pending else await pump.next(keepalive_s)
        if event is TIMEOUT:
            yield SSE_KEEPALIVE  # while the CLI starts up or thinks: keeps proxies and clients patient
            continue
        if event is None or isinstance(event, Finished):
            break
        if isinstance(event, Failure):
            outcome.record(_failure_outcome(event), event)
            yield sse(to_openai_error(event, secrets).body())
            return
        outcome.add(event)
        if isinstance(event, TextDelta):
            delta = {"content": event.text} if role_sent else {"role": "assistant", "content": event.text}
            role_sent = True
            yield sse(chunk(completion, delta))
    final_delta: dict[str, Any] = {} if role_sent else {"role": "assistant", "content": ""}
    outcome.record("ok")
    yield sse(chunk(completion, final_delta, "stop", outcome.usage or Usage(0, 0)))
    yield SSE_DONE


def _api_key() -> str | None:
    key = os.environ.get("CLI_PROXY_API_KEY")
    if not key and os.environ.get("MAXIMUS_ALLOW_NO_KEY") != "1":
        raise RuntimeError("CLI_PROXY_API_KEY is not set (set MAXIMUS_ALLOW_NO_KEY=1 to run without a key)")
    return key or None


def known_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """What must never reach a client in an error: secret-looking variables, and the variables each account's
    env_from names, whatever they are called (a login in WORK_LOGIN looks like no secret by its name)."""
    env = os.environ if env is None else env
    named = {
        source for cli in settings.clis.values() for account in cli.accounts for source in account.env_from.values()
    }
    held = [env[source] for source in sorted(named) if len(env.get(source, "")) >= 8]
    return env_secrets(env) + [v for cli in settings.clis.values() for v in env_secrets(cli.env)] + held


def create_app(settings: Settings | None = None) -> FastAPI:
    api_key = _api_key()
    settings = settings or load_settings()
    metrics = Metrics()
    proxy = CliProxy(settings, metrics)
    secrets = known_secrets(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        checker = asyncio.create_task(proxy.readiness.run_forever())
        try:
            yield
        finally:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
            await proxy.shutdown()

    async def readiness() -> dict[str, Any]:
        report = {**proxy.readiness.report(), "accounts": proxy.export_accounts()}
        for name, status in proxy.readiness.status.items():
            metrics.ready.labels(name).set(1 if status.ready else 0)
        return report

    app = create_service_app("cli-proxy", api_key, readiness=readiness, lifespan=lifespan)
    app.state.proxy = proxy

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        await readiness()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": settings.models[model].cli}
            for model in proxy.readiness.ready_models()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, body: ChatRequest) -> Response:
        check_supported(body, settings.refused_params)
        prompt = build_prompt(body)
        target = proxy.target(body.model)
        if settings.log_content:
            log.info("chat prompt model=%s system=%r prompt=%r", body.model, prompt.system, prompt.text)
        pump = Pump(proxy.run(target, prompt, conversation_key(request.headers, body)))
        completion = Completion(body.model)
        if body.stream:
            return await _stream_reply(proxy, target, pump, completion, secrets)
        return await _full_reply(request, proxy, target, pump, completion, secrets)

    @app.get("/v1/models/{model_id}")
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id not in proxy.readiness.ready_models():
            raise OpenAIError(404, f"The model '{model_id}' is not available here.", code="model_not_found")
        return {"id": model_id, "object": "model", "created": 0, "owned_by": settings.models[model_id].cli}

    return app
