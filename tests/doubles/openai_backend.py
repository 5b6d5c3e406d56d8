"""A test double of an OpenAI-compatible chat backend (a cloud API seen from LiteLLM's openai/ provider).

It answers POST /v1/chat/completions in OpenAI's format, streaming (SSE, with a final usage chunk when
stream_options.include_usage is set) and not, lists /v1/models, and records every request so that tests can
assert what a backend saw (GET /_double/requests). `--fail-status 503` makes every completion fail with an
OpenAI error body, to exercise fallbacks.

Run: python -m tests.doubles.openai_backend --port 9999 --name cloud
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(messages: list[dict[str, Any]], answer: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    completion = len(answer.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def create_app(name: str, fail_status: int | None = None) -> FastAPI:
    app = FastAPI()
    requests: list[dict[str, Any]] = []

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "double"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        requests.append({"headers": dict(request.headers), "body": body})
        if fail_status:
            error = {"message": f"{name} double fails on purpose", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=fail_status)
        answer = f"Answer from the {name} double."
        usage = _usage(body.get("messages", []), answer)
        created = int(time.time())
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
            return {"id": _completion_id(), "object": "chat.completion", "created": created,
                    "model": body.get("model"), "choices": [choice], "usage": usage}
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(_stream(body.get("model"), answer, usage, include_usage, created),
                                 media_type="text/event-stream")

    @app.get("/_double/requests")
    async def recorded() -> list[dict[str, Any]]:
        return requests

    @app.delete("/_double/requests")
    async def clear() -> dict[str, bool]:
        requests.clear()
        return {"cleared": True}

    return app


def _stream(model: str | None, answer: str, usage: dict[str, int], include_usage: bool,
            created: int) -> Iterator[str]:
    completion_id = _completion_id()

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": choices, **extra}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for index, word in enumerate(answer.split(" ")):
        yield chunk({"content": word if index == 0 else f" {word}"})
    yield chunk({}, "stop")
    if include_usage:
        yield chunk(None, usage=usage)
    yield "data: [DONE]\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="cloud")
    parser.add_argument("--fail-status", type=int, default=None)
    args = parser.parse_args()
    uvicorn.run(create_app(args.name, args.fail_status), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
