"""A test double of Ollama's HTTP API, for machines without Ollama and a model.

It follows Ollama 0.12.6 (docs/api.md at tag v0.12.6, and the server's error texts in server/routes.go and
server/images.go of that tag); docs/reference/ollama.md lists each behaviour, its section and what is not modelled.
Routes: /api/version, /api/tags, /api/show (with `capabilities` per model), /api/chat (NDJSON stream by default,
one object with stream false; `tools`, `format`, `think`), /api/embed and the legacy /api/embeddings, with Ollama's
error bodies ({"error": "..."} with 400 or 404). Log-probabilities (`logprobs`, `top_logprobs`) and
the OpenAI-compatible /v1/chat/completions follow Ollama 0.12.11, the first version with them
(tests/doubles/ollama_logprobs.py). The answer is made from the request (tests/doubles/ollama_content.py:
the double has no model), and every request is recorded so that tests can tell which backend saw what:
GET /_double/requests.

Capabilities refuse as Ollama does: `tools` to a model without `tools` is a 400 "registry.ollama.ai/library/<model>
does not support tools", chat to an embedding-only model a 400 '"<model>" does not support chat', `think: true` to a
model without `thinking` a 400 '"<model>" does not support thinking'. PUT /_double/models {"models": [...],
"capabilities": {"family": [...]}} changes the pulled models (an `ollama pull` or `ollama rm` while running).

A stalled Ollama (a model that hangs, a GPU that wedged) is set with PUT /_double/stall {"mode": ...}:
"never" accepts /api/chat and never answers; "headers" answers 200 with its headers and then sends nothing;
"midstream" streams the first `chunks` NDJSON chunks of the answer (PUT {"mode": "midstream", "chunks": N},
default 2) and then goes silent; "off" answers again. The stalled modes hold the request until the client gives up.

Run: python -m tests.doubles.ollama --port 11434 --models gemma3,llama3.1,embeddinggemma
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

from tests.doubles import ollama_content as content
from tests.doubles import ollama_logprobs
from tests.doubles.ollama_content import tag as _tag

OLLAMA_VERSION = "0.12.6"
DEFAULT_MODELS = "gemma3,llama3.1,embeddinggemma"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


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


class OllamaDouble:
    def __init__(self, models: list[str], delay_per_chunk: float = 0.0) -> None:
        self.models = [_tag(m) for m in models]
        self.delay_per_chunk = delay_per_chunk
        self.requests: list[dict[str, Any]] = []
        self.stall = STALL_OFF
        self.stall_after = MIDSTREAM_CHUNKS
        self.capability_overrides: dict[str, tuple[str, ...]] = {}
        self.fixed_logprob: float | None = None  # PUT /_double/logprobs: every token's log-probability

    def capabilities(self, name: str) -> list[str]:
        return content.capabilities(name, self.capability_overrides)

    def model_entry(self, name: str) -> dict[str, Any]:
        family = content.family(name)
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
        return content.answer_text(model, messages)

    def show(self, name: str) -> dict[str, Any]:
        family = content.family(name)
        info: dict[str, Any] = {"general.architecture": family, f"{family}.context_length": 8192}
        if "embedding" in self.capabilities(name):
            info[f"{family}.embedding_length"] = content.EMBEDDING_LENGTH.get(family, content.DEFAULT_EMBEDDING_LENGTH)
        return {
            "modelfile": f"FROM {name}",
            "parameters": 'stop "<end_of_turn>"',
            "template": "{{ .Prompt }}",
            "details": self.model_entry(_tag(name))["details"],
            "model_info": info,
            "capabilities": self.capabilities(name),
            "modified_at": _now(),
        }

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
            return self.show(name)

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
            return self._embed(body)

        @app.post("/api/embeddings")
        async def embeddings(request: Request) -> Any:
            """The legacy route (superseded by /api/embed): one `prompt`, one `embedding`."""
            body, problem = await self._json(request)
            if problem:
                return problem
            name = body.get("model") or ""
            if _tag(name) not in self.models:
                return _error(404, f"model '{name}' not found")
            prompt = body.get("prompt")
            if not isinstance(prompt, str):
                return _error(400, "invalid input type")
            return {"embedding": content.embedding(name, prompt) if prompt else []}

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

        @app.put("/_double/models")
        async def set_models(request: Request) -> Any:
            """What `ollama pull` / `ollama rm` change: the served models, and optionally a family's capabilities."""
            body = await request.json()
            models, caps = body.get("models", [m.split(":")[0] for m in self.models]), body.get("capabilities", {})
            if not isinstance(models, list) or not isinstance(caps, dict):
                return _error(400, "models must be a list and capabilities an object")
            self.models = [_tag(str(m)) for m in models]
            self.capability_overrides.update({str(k): tuple(v) for k, v in caps.items()})
            return {"models": self.models}

        @app.delete("/_double/requests")
        async def clear() -> dict[str, bool]:
            self.requests.clear()
            return {"cleared": True}

        ollama_logprobs.add_routes(app, self)  # /v1/chat/completions and PUT /_double/logprobs (0.12.11)
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

    def _embed(self, body: dict[str, Any]) -> Any:
        """/api/embed: `input` a string or a list of strings; any pulled model embeds (Ollama 0.12.6 checks no
        capability here), `embeddings` one unit vector per input."""
        name = body.get("model") or ""
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs] if inputs else []
        elif inputs is None:
            inputs = []
        elif not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return _error(400, "invalid input type")
        if _tag(name) not in self.models:
            return _error(404, f"model '{name}' not found")
        vectors = [content.embedding(name, text) for text in inputs]
        answer: dict[str, Any] = {"model": name, "embeddings": vectors}
        if inputs:
            tokens = sum(content.count_tokens(t) for t in inputs)
            answer.update(total_duration=1_000_000, load_duration=100_000, prompt_eval_count=tokens)
        return answer

    def _refusal(self, body: dict[str, Any]) -> JSONResponse | None:
        """Ollama's checks before it schedules a model (server/routes.go ChatHandler, v0.12.6)."""
        name = body["model"]
        caps = self.capabilities(name)
        think = body.get("think")
        if "thinking" not in caps and think not in (None, False):
            return _error(400, f"{json.dumps(name)} does not support thinking")
        if "completion" not in caps:
            return _error(400, f"{json.dumps(name)} does not support chat")
        if body.get("tools") and "tools" not in caps:
            return _error(400, f"registry.ollama.ai/library/{_tag(name)} does not support tools")
        return None

    async def _chat(self, body: dict[str, Any], stall_after: int | None = None, request: Request | None = None) -> Any:
        """The answer; with `stall_after` (and the `request` to watch), a stream of that many chunks, then silence."""
        name = body.get("model")
        if ollama_logprobs.check(body):  # checked before the model (server/routes.go ChatHandler, v0.12.11)
            return _error(400, ollama_logprobs.TOP_LOGPROBS_ERROR)
        if not name:
            return _error(400, "model is required")
        if _tag(name) not in self.models:
            return _error(404, f'model "{name}" not found, try pulling it first')
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            return _error(400, "messages must be a list")
        refused = self._refusal(body)
        if refused is not None:
            return refused
        # A thinking model thinks unless told not to (v0.12.6 sets think=true when the request leaves it out).
        thinks = "thinking" in self.capabilities(name) and body.get("think") not in (False,)
        thinking = content.thinking_text(messages) if thinks else ""
        calls = [content.tool_call(body["tools"])] if content.calls_tool(body) else []
        answer = "" if calls else self.answer_for(name, messages)
        if answer and body.get("format") not in (None, ""):
            answer = content.formatted(body["format"], answer)
        prompt_tokens = sum(content.count_tokens(content.text_of(m)) for m in messages)
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
            "eval_count": content.count_tokens(answer + thinking) + 10 * len(calls),
            "eval_duration": 700_000,
        }
        logprobs, top = ollama_logprobs.wanted(body)
        tokens = ollama_logprobs.entries(name, _words(answer), top, self.fixed_logprob) if logprobs else []
        if body.get("stream") is False:
            final["message"].update(_message(answer, thinking, calls))
            if tokens:
                final["logprobs"] = tokens
            return final
        chunks = self._stream(name, answer, thinking, calls, final, tokens)
        if stall_after is not None and request is not None:
            chunks = _stall_after(chunks, stall_after, request)
        return StreamingResponse(chunks, media_type="application/x-ndjson")

    async def _stream(
        self,
        name: str,
        answer: str,
        thinking: str,
        calls: list[dict[str, Any]],
        final: dict[str, Any],
        logprobs: list[dict[str, Any]] | None = None,
    ) -> AsyncIterator[bytes]:
        """Thinking chunks first, then content chunks word by word, a tool call in one chunk of its own, then the
        final object with the counts (docs/api.md: "Chat request (Streaming with tools)")."""
        pieces = [("thinking", p) for p in _words(thinking)] + [("content", p) for p in _words(answer)]
        content_index = 0
        for field, piece in pieces:
            message = {"role": "assistant", "content": piece if field == "content" else ""}
            if field == "thinking":
                message["thinking"] = piece
            line = {"model": name, "created_at": _now(), "message": message, "done": False}
            if field == "content" and logprobs and content_index < len(logprobs):
                line["logprobs"] = [logprobs[content_index]]  # each chunk its own tokens' entries (0.12.11)
            content_index += field == "content"
            yield _line(line)
            if self.delay_per_chunk:
                await asyncio.sleep(self.delay_per_chunk)
        if calls:
            message = {"role": "assistant", "content": "", "tool_calls": calls}
            yield _line({"model": name, "created_at": _now(), "message": message, "done": False})
        yield _line(final)


def _words(text: str) -> list[str]:
    words = text.split(" ") if text else []
    return [word if index == 0 else f" {word}" for index, word in enumerate(words)]


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def _message(answer: str, thinking: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"content": answer}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--delay-per-chunk", type=float, default=0.0)
    args = parser.parse_args()
    double = OllamaDouble(args.models.split(","), args.delay_per_chunk)
    uvicorn.run(double.create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
