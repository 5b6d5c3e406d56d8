"""The vision service's HTTP API: OpenAI-shaped embeddings and chat, classification, models, health, metrics."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maximus_kernel.openai_errors import OpenAIError
from maximus_kernel.service_app import create_service_app
from vision import chat
from vision.runtime import VisionRuntime
from vision.settings import VisionSettings, load_settings

log = logging.getLogger("vision")

InputItem = str | list[str]
ENDPOINT_BY_PATH = {"/v1/embeddings": "embeddings", "/v1/classify": "classify", "/v1/chat/completions": "chat"}


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: InputItem | list[InputItem]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: InputItem | list[InputItem]
    model: str | None = None
    top_k: int | None = Field(default=None, ge=1)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None


def _items(value: InputItem | list[InputItem]) -> list[Any]:
    """OpenAI's `input`: one input, or a list of inputs (a nested list is the frames of one clip)."""
    return [value] if isinstance(value, str) else list(value)


def _encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    return vector.astype(np.float32).tolist()


def _require_key(settings: VisionSettings) -> None:
    if settings.api_key is None and os.environ.get("MAXIMUS_ALLOW_NO_KEY") != "1":
        raise RuntimeError(
            "VISION_API_KEY is not set: set it (LiteLLM sends it as the max-vision api_key), "
            "or set MAXIMUS_ALLOW_NO_KEY=1 to run without a key on a trusted network."
        )


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, chunked uploads included."""

    def __init__(self, app: ASGIApp, limit: int, paths: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths

    def _too_large(self, size: str) -> Response:
        message = f"Request body of {size} bytes is over the limit of {self.limit} bytes."
        return OpenAIError(413, message, code="request_too_large").response()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._too_large(length.decode())(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._too_large(f"more than {self.limit}")(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _install_guards(app: FastAPI, runtime: VisionRuntime) -> None:
    # Added first, so it runs inside the counting middleware: refused bodies are counted too.
    app.add_middleware(BodyLimit, limit=runtime.settings.max_request_bytes, paths=frozenset(ENDPOINT_BY_PATH))

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        endpoint = ENDPOINT_BY_PATH.get(request.url.path)
        if endpoint:
            runtime.metrics.requests.labels(endpoint, runtime.metrics.outcome(response.status_code)).inc()
        return response


def _routes(app: FastAPI, runtime: VisionRuntime) -> None:
    settings = runtime.settings

    @app.get("/metrics")
    async def metrics() -> Response:
        runtime.metrics.queue_depth.set(runtime.batcher.depth if runtime.batcher else 0)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": settings.served_model_name, "object": "model", "created": 0, "owned_by": "maximus"}
        if runtime.model is not None:
            card["vision"] = runtime.model.describe()
        return {"object": "list", "data": [card]}

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingsRequest) -> dict[str, Any]:
        model = runtime.require_model()
        if body.dimensions is not None and body.dimensions != model.hidden_size:
            raise OpenAIError(
                400,
                f"This model's embeddings have {model.hidden_size} dimensions; 'dimensions' cannot change that.",
                code="unsupported_dimensions",
                param="dimensions",
            )
        analysed = await runtime.analyse(_items(body.input))
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _encode(item.result.embedding.numpy(), body.encoding_format),
            }
            for i, item in enumerate(analysed)
        ]
        tokens = sum(item.tokens for item in analysed)
        return {
            "object": "list",
            "data": data,
            "model": settings.served_model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.post("/v1/classify")
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        model = runtime.require_model()
        if model.kind != "classifier":
            raise OpenAIError(
                400,
                "The loaded checkpoint is an encoder without a classification head: load "
                "a classifier checkpoint (e.g. facebook/vjepa2-vitl-fpc16-256-ssv2) to get labels, "
                "or use /v1/embeddings.",
                code="no_classifier_head",
                param="model",
            )
        top_k = body.top_k or settings.default_top_k
        if top_k > settings.max_top_k:
            raise OpenAIError(
                400, f"top_k {top_k} is over the limit of {settings.max_top_k}.", code="invalid_top_k", param="top_k"
            )
        analysed = await runtime.analyse(_items(body.input))
        data = [
            {"object": "classification", "index": i, "labels": runtime.top_labels(item.result, top_k)}
            for i, item in enumerate(analysed)
        ]
        tokens = sum(item.tokens for item in analysed)
        return {
            "object": "list",
            "data": data,
            "model": settings.served_model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        runtime.require_model()
        request = chat.parse_messages(body.messages)
        analysed = await runtime.analyse(request.media, param="messages")
        facts, data = chat.findings(runtime, analysed)
        max_tokens = body.max_completion_tokens or body.max_tokens
        phrased = await chat.phrase(settings, facts, request.question, max_tokens)
        answer = phrased or facts
        tokens = sum(item.tokens for item in analysed)
        words = len(answer.split())
        usage = {"prompt_tokens": tokens, "completion_tokens": words, "total_tokens": tokens + words}
        extra = {"vision": {"findings": data, "phrased_by": settings.chat_model if phrased else None}}
        full = chat.completion(settings.served_model_name, answer, usage, extra)
        if not body.stream:
            return full
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(
            chat.stream_chunks(full, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )


def build_app(settings: VisionSettings) -> FastAPI:
    runtime = VisionRuntime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    async def readiness() -> dict[str, Any]:
        return runtime.readiness()

    app = create_service_app("vision", settings.api_key, readiness=readiness, lifespan=lifespan)
    app.state.runtime = runtime
    _install_guards(app, runtime)
    _routes(app, runtime)
    return app


def create_app() -> FastAPI:
    """The factory `maximus serve vision` (uvicorn --factory) runs: settings from the environment."""
    logging.basicConfig(level=os.environ.get("VISION_LOG_LEVEL", "INFO"))
    settings = load_settings()
    _require_key(settings)
    return build_app(settings)
