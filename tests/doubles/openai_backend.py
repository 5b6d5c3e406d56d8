"""A test double of an OpenAI-compatible chat backend (a cloud API seen from LiteLLM's openai/ provider).

It answers POST /v1/chat/completions in OpenAI's format, streaming (SSE, with a final usage chunk when
stream_options.include_usage is set) and not, POST /v1/embeddings (float or base64), lists /v1/models, and
records every request so that tests can assert what a backend saw (GET /_double/requests). Failures, to exercise
fallbacks: `--fail-status 503` makes every completion fail with an OpenAI error body; without it, a requested
model whose name contains "fail" answers 503 with that body, so one double can serve healthy and failing groups
at once. Usage counts words (prompt and answer); `--usage PROMPT,COMPLETION` reports fixed counts instead, for
exact token assertions. `--reply TEXT` answers TEXT instead of its name. PUT /_double/hold {"on": true} holds
every completion after recording it, until {"on": false}: a slow tier whose requests a test can see arrive (a
client that waits on it would wait forever; one that does not, answers).

Run: python -m tests.doubles.openai_backend --port 9999 --name cloud [--usage 11,5] [--reply TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

FAILING_MODEL_STATUS = 503
EMBEDDING_DIMENSIONS = 1536


def _vector(text: str, size: int) -> list[float]:
    """A deterministic unit vector of `size` values for `text`."""
    raw = hashlib.shake_256(text.encode()).digest(size)
    values = [(b - 127.5) / 127.5 for b in raw]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(messages: list[dict[str, Any]], answer: str, fixed: tuple[int, int] | None) -> dict[str, int]:
    if fixed:
        prompt, completion = fixed
    else:
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion = len(answer.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _failure(name: str, model: str, fail_status: int | None) -> JSONResponse | None:
    """The OpenAI error answer when this double fails on purpose (every request, or a "fail" model)."""
    status = fail_status or (FAILING_MODEL_STATUS if "fail" in model else None)
    if not status:
        return None
    error = {"message": f"{name} double fails on purpose ({model})", "type": "server_error", "code": None}
    return JSONResponse({"error": error}, status_code=status)


def create_app(
    name: str, fail_status: int | None = None, usage: tuple[int, int] | None = None, reply: str | None = None
) -> FastAPI:
    app = FastAPI()
    requests: list[dict[str, Any]] = []
    released = asyncio.Event()
    released.set()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "double"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        requests.append({"headers": dict(request.headers), "body": body})
        await released.wait()
        failure = _failure(name, str(body.get("model", "")), fail_status)
        if failure is not None:
            return failure
        answer = reply if reply is not None else f"Answer from the {name} double."
        counts = _usage(body.get("messages", []), answer, usage)
        created = int(time.time())
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
            return {
                "id": _completion_id(),
                "object": "chat.completion",
                "created": created,
                "model": body.get("model"),
                "choices": [choice],
                "usage": counts,
            }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _stream(body.get("model"), answer, counts, include_usage, created), media_type="text/event-stream"
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        """OpenAI's embeddings API: `input` a string, strings or token arrays; `encoding_format` float or base64
        (little-endian float32); `dimensions` (default 1536, text-embedding-3-small's)."""
        body = await request.json()
        requests.append({"headers": dict(request.headers), "body": body})
        failure = _failure(name, str(body.get("model", "")), fail_status)
        if failure is not None:
            return failure
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)) else inputs
        size = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        vectors = [_vector(json.dumps(item), size) for item in inputs or []]
        if body.get("encoding_format") == "base64":
            vectors = [base64.b64encode(struct.pack(f"<{size}f", *v)).decode() for v in vectors]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        tokens = sum(len(str(item).split()) for item in inputs or [])
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": body.get("model"), "usage": usage}

    @app.get("/_double/requests")
    async def recorded() -> list[dict[str, Any]]:
        return requests

    @app.put("/_double/hold")
    async def hold(request: Request) -> dict[str, bool]:
        on = bool((await request.json()).get("on"))
        released.clear() if on else released.set()
        return {"held": on}

    @app.delete("/_double/requests")
    async def clear() -> dict[str, bool]:
        requests.clear()
        return {"cleared": True}

    return app


def _stream(model: str | None, answer: str, usage: dict[str, int], include_usage: bool, created: int) -> Iterator[str]:
    completion_id = _completion_id()

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for index, word in enumerate(answer.split(" ")):
        yield chunk({"content": word if index == 0 else f" {word}"})
    yield chunk({}, "stop")
    if include_usage:
        yield chunk(None, usage=usage)
    yield "data: [DONE]\n\n"


def _usage_pair(text: str) -> tuple[int, int]:
    prompt, _, completion = text.partition(",")
    return int(prompt), int(completion)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="cloud")
    parser.add_argument("--fail-status", type=int, default=None)
    parser.add_argument("--usage", type=_usage_pair, default=None, metavar="PROMPT,COMPLETION")
    parser.add_argument("--reply", default=None)
    args = parser.parse_args()
    app = create_app(args.name, args.fail_status, args.usage, args.reply)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
