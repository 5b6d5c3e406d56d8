"""A test double of Ollama's HTTP API, for machines without Ollama and a model.

It speaks the protocol as Ollama documents it (docs/api.md): /api/version, /api/tags, /api/show,
/api/chat (NDJSON stream by default, one object with stream false), /api/embed, and Ollama's error bodies
({"error": "..."} with 400 or 404). The answer is made from the request (the double has no model), and every
request is recorded so that tests can tell which backend saw what: GET /_double/requests.

A stalled Ollama (a model that hangs, a GPU that wedged) is set with PUT /_double/stall {"mode": ...}:
"never" accepts /api/chat and never answers; "headers" answers 200 with its headers and then sends nothing;
"midstream" streams the first `chunks` NDJSON chunks of the answer (PUT {"mode": "midstream", "chunks": N},
default 2) and then goes silent; "off" answers again. The stalled modes hold the request until the client gives up.

Run: python -m tests.doubles.ollama --port 11434 --models gemma3,llama3.1
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

OLLAMA_VERSION = "0.12.6"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _tag(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else json.dumps(content)


# What `ollama show` reports for the default models: gemma3 takes images but no tools, llama3.1 the reverse.
CAPABILITIES = {"gemma3": ["completion", "vision"], "llama3.1": ["completion", "tools"]}


def capabilities(name: str) -> list[str]:
    return CAPABILITIES.get(_tag(name).split(":")[0], ["completion"])


STALL_OFF, STALL_NEVER, STALL_HEADERS, STALL_MIDSTREAM = "off", "never", "headers", "midstream"
STALL_MODES = (STALL_OFF, STALL_NEVER, STALL_HEADERS, STALL_MIDSTREAM)
MIDSTREAM_CHUNKS = 2  # chunks sent before a midstream stall, unless the stall request says otherwise


async def _hang(request: Request) -> None:
    """Until the client gives up: a handler that outlived its client would hold the server's shutdown. The body is
    read already, so the next ASGI message is the disconnect (Request.is_disconnected misses it behind the
    recording middleware)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _stalled_stream(request: Request) -> AsyncIterator[bytes]:
    await _hang(request)
    return
    yield b""  # never reached: makes this an async generator


async def _stall_after(chunks: AsyncIterator[bytes], count: int, request: Request) -> AsyncIterator[bytes]:
    """The first `count` chunks, then nothing until the client gives up (a model that wedged mid-answer)."""
    sent = 0
    async for chunk in chunks:
        if sent == count:
            break
        yield chunk
        sent += 1
    await _hang(request)


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


class OllamaDouble:
    def __init__(self, models: list[str], delay_per_chunk: float = 0.0) -> None:
        self.models = [_tag(m) for m in models]
        self.delay_per_chunk = delay_per_chunk
        self.requests: list[dict[str, Any]] = []
        self.stall = STALL_OFF
        self.stall_after = MIDSTREAM_CHUNKS

    def model_entry(self, name: str) -> dict[str, Any]:
        family = name.split(":")[0]
        return {
            "name": name,
            "model": name,
            "modified_at": _now(),
            "size": 3338801804,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": family,
                "families": [family],
                "parameter_size": "4.3B",
                "quantization_level": "Q4_K_M",
            },
        }

    def answer_for(self, model: str, messages: list[dict[str, Any]]) -> str:
        last_user = next((_text_of(m) for m in reversed(messages) if m.get("role") == "user"), "")
        return f"Local answer from {model.split(':')[0]}: I read {len(last_user.split())} words."

    def create_app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
            body = await request.body()
            self.requests.append(
                {"method": request.method, "path": request.url.path, "body": body.decode(errors="replace")}
            )
            return await call_next(request)

        @app.get("/")
        async def root() -> Any:
            return JSONResponse("Ollama is running")

        @app.get("/api/version")
        async def version() -> dict[str, str]:
            return {"version": OLLAMA_VERSION}

        @app.get("/api/tags")
        async def tags() -> dict[str, Any]:
            return {"models": [self.model_entry(m) for m in self.models]}

        @app.post("/api/show")
        async def show(request: Request) -> Any:
            body, problem = await self._json(request)
            if problem:
                return problem
            name = body.get("model") or body.get("name")
            if not name:
                return _error(400, "model is required")
            if _tag(name) not in self.models:
                return _error(404, f"model '{name}' not found")
            family = _tag(name).split(":")[0]
            return {
                "modelfile": f"FROM {name}",
                "parameters": 'stop "<end_of_turn>"',
                "template": "{{ .Prompt }}",
                "details": self.model_entry(_tag(name))["details"],
                "model_info": {"general.architecture": family, f"{family}.context_length": 8192},
                "capabilities": capabilities(name),
                "modified_at": _now(),
            }

        @app.post("/api/chat")
        async def chat(request: Request) -> Any:
            body, problem = await self._json(request)
            if problem:
                return problem
            if self.stall == STALL_NEVER:
                await _hang(request)
            if self.stall == STALL_HEADERS:
                return StreamingResponse(_stalled_stream(request), media_type="application/x-ndjson")
            if self.stall == STALL_MIDSTREAM:
                return await self._chat(body, stall_after=self.stall_after, request=request)
            return await self._chat(body)

        @app.post("/api/embed")
        async def embed(request: Request) -> Any:
            body, problem = await self._json(request)
            if problem:
                return problem
            if _tag(body.get("model", "")) not in self.models:
                return _error(404, f'model "{body.get("model")}" not found, try pulling it first')
            inputs = body.get("input", [])
            inputs = [inputs] if isinstance(inputs, str) else inputs
            vectors = [[(b - 128) / 128 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in inputs]
            return {"model": body["model"], "embeddings": vectors, "prompt_eval_count": len(inputs)}

        @app.get("/_double/requests")
        async def recorded() -> list[dict[str, Any]]:
            return self.requests

        @app.put("/_double/stall")
        async def set_stall(request: Request) -> Any:
            body = await request.json()
            mode, chunks = body.get("mode"), body.get("chunks", MIDSTREAM_CHUNKS)
            if mode not in STALL_MODES:
                return _error(400, f"mode must be one of {', '.join(STALL_MODES)}")
            if not isinstance(chunks, int) or chunks < 0:
                return _error(400, "chunks must be a whole number, 0 or more")
            self.stall, self.stall_after = mode, chunks
            return {"stall": mode, "chunks": chunks}

        @app.delete("/_double/requests")
        async def clear() -> dict[str, bool]:
            self.requests.clear()
            return {"cleared": True}

        return app

    async def _json(self, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        raw = await request.body()
        if not raw:
            return {}, _error(400, "missing request body")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            return {}, _error(400, f"invalid character at offset {exc.pos}")
        if not isinstance(body, dict):
            return {}, _error(400, "json: cannot unmarshal into Go value of type api.ChatRequest")
        return body, None

    async def _chat(self, body: dict[str, Any], stall_after: int | None = None, request: Request | None = None) -> Any:
        """The answer; with `stall_after` (and the `request` to watch), a stream of that many chunks, then silence."""
        name = body.get("model")
        if not name:
            return _error(400, "model is required")
        if _tag(name) not in self.models:
            return _error(404, f'model "{name}" not found, try pulling it first')
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            return _error(400, "messages must be a list")
        if body.get("tools") and "tools" not in capabilities(name):
            return _error(400, f"registry.ollama.ai/library/{_tag(name)} does not support tools")
        answer = self.answer_for(name, messages)
        prompt_tokens = sum(_count_tokens(_text_of(m)) for m in messages)
        final = {
            "model": name,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 200_000,
            "eval_count": _count_tokens(answer),
            "eval_duration": 700_000,
        }
        if body.get("stream") is False:
            final["message"]["content"] = answer
            return final
        chunks = self._stream(name, answer, final)
        if stall_after is not None and request is not None:
            chunks = _stall_after(chunks, stall_after, request)
        return StreamingResponse(chunks, media_type="application/x-ndjson")

    async def _stream(self, name: str, answer: str, final: dict[str, Any]) -> AsyncIterator[bytes]:
        words = answer.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else f" {word}"
            chunk = {
                "model": name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            yield (json.dumps(chunk) + "\n").encode()
            if self.delay_per_chunk:
                await asyncio.sleep(self.delay_per_chunk)
        yield (json.dumps(final) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--models", default="gemma3,llama3.1")
    parser.add_argument("--delay-per-chunk", type=float, default=0.0)
    args = parser.parse_args()
    double = OllamaDouble(args.models.split(","), args.delay_per_chunk)
    uvicorn.run(double.create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
