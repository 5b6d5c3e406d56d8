"""A real HTTP server speaking OpenAI's chat-completions protocol, standing in for a tier's backend.

Behaviour is chosen by the upstream model name so one server can play every tier:
- a name containing "fail" answers 503 (an OpenAI-shaped error), so LiteLLM fails over or reports a failure;
- any other name answers with fixed usage (PROMPT_TOKENS in, COMPLETION_TOKENS out), streamed as SSE with a
  final usage chunk when the request asks for a stream.
Run it as `python -m tests.tracker.openai_double --port P`.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

PROMPT_TOKENS = 11
COMPLETION_TOKENS = 5
WORDS = ["sovereign ", "answer ", "from ", "the ", "double"]


def _usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def _completion(model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "".join(WORDS)}}],
        "usage": _usage(),
    }


def _chunk(cid: str, model: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        "usage": usage,
    }
    return f"data: {json.dumps(body)}\n\n"


async def _stream(model: str) -> AsyncIterator[str]:
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    for word in WORDS:
        yield _chunk(cid, model, {"content": word})
    yield _chunk(cid, model, {}, finish="stop")
    yield _chunk(cid, model, {}, usage=_usage())
    yield "data: [DONE]\n\n"


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = str(body.get("model", ""))
        if "fail" in model:
            error = {"message": f"{model} is unavailable", "type": "service_unavailable", "code": None, "param": None}
            return JSONResponse({"error": error}, status_code=503)
        if body.get("stream"):
            return StreamingResponse(_stream(model), media_type="text/event-stream")
        return JSONResponse(_completion(model))

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
