"""What every Maximus HTTP service shares: Bearer-key auth, OpenAI error bodies, health routes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from maximus_kernel.openai_errors import OpenAIError, install_error_handlers

# Routes that answer without a key: liveness, readiness and the Prometheus scrape (counts, never content).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/metrics/"})

OPENAPI_PATH = "/openapi.json"

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]

log = logging.getLogger("maximus")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _key_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def create_service_app(
    title: str,
    api_key: str | None,
    readiness: ReadinessCheck | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app with our conventions.

    `api_key` None means the operator explicitly runs without a key (tests, a trusted network);
    `maximus serve` refuses that unless asked, see `maximus.serve`.
    `readiness` returns a dict with at least `ready: bool`; /readyz answers 503 while it is false.
    """
    # The OpenAPI document (for clients and the tests' fuzz campaigns) is not in OPEN_PATHS: it needs the key.
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=OPENAPI_PATH, **fastapi_kwargs)
    install_error_handlers(app)

    @app.middleware("http")
    async def require_key(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if api_key and request.url.path not in OPEN_PATHS and not _key_matches(bearer_token(request), api_key):
            missing = bearer_token(request) is None
            message = "Missing API key: send 'Authorization: Bearer <key>'." if missing else "Invalid API key."
            return OpenAIError(401, message, code="invalid_api_key").response()
        return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": title}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        state = await readiness() if readiness else {"ready": True}
        return JSONResponse(state, status_code=200 if state.get("ready") else 503)

    return app
