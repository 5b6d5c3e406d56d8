"""Log-probabilities in the Ollama double, and Ollama's OpenAI-compatible /v1/chat/completions, as Ollama 0.12.11
gives them (the first version with `logprobs`: server/routes.go ChatHandler, api/types.go Logprob, openai/openai.go
ToChatCompletion/ToChunk and middleware/openai.go ChatWriter at tag v0.12.11).

- /api/chat with `logprobs: true`: a top-level `logprobs` array, one entry per generated token
  `{"token", "logprob", "bytes", "top_logprobs"?}` (`top_logprobs` only with `top_logprobs` > 0: that many
  alternatives, the chosen token first); streamed, each chunk carries its own tokens' entries, and the final
  object none; non-streamed, all of them. `top_logprobs` outside 0..20 is a 400 "top_logprobs must be between
  0 and 20".
- /v1/chat/completions: OpenAI's chat.completion (`stream` false by default there), with
  `choices[0].logprobs.content` the same entries; streamed as SSE chunks (`data: {...}`), the usage chunk with
  `stream_options.include_usage`, then `data: [DONE]`. Errors as Ollama's /v1 writes them:
  `{"error": {"message", "type"}}` with the status of the /api/chat error.

The double has no model: a token's log-probability is a fixed function of the model, its position and its text,
within -0.32..-0.02 (a confident model), unless a test sets one for every token with PUT /_double/logprobs
{"logprob": -3.0} (a model unsure of its answer; {"logprob": null} goes back to the default)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

if TYPE_CHECKING:
    from tests.doubles.ollama import OllamaDouble

MAX_TOP_LOGPROBS = 20
TOP_LOGPROBS_ERROR = "top_logprobs must be between 0 and 20"


def default_logprob(model: str, position: int, token: str) -> float:
    digest = hashlib.sha256(f"{model}|{position}|{token}".encode()).digest()
    return -round(0.02 + int.from_bytes(digest[:4], "big") % 300 / 1000, 4)


def entries(model: str, tokens: list[str], top: int, fixed: float | None, start: int = 0) -> list[dict[str, Any]]:
    """One Logprob entry per token (api/types.go Logprob: TokenLogprob fields, then top_logprobs if asked)."""
    out = []
    for offset, token in enumerate(tokens):
        value = fixed if fixed is not None else default_logprob(model, start + offset, token)
        entry: dict[str, Any] = {"token": token, "logprob": value, "bytes": list(token.encode())}
        if top > 0:
            alternatives = [{"token": token, "logprob": value, "bytes": list(token.encode())}]
            for rank in range(1, top):
                alt = f"{token.strip() or '_'}~{rank}"
                alternatives.append({"token": alt, "logprob": round(value - rank, 4), "bytes": list(alt.encode())})
            entry["top_logprobs"] = alternatives
        out.append(entry)
    return out


def check(body: dict[str, Any]) -> str | None:
    top = body.get("top_logprobs", 0) or 0
    if not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
        return TOP_LOGPROBS_ERROR
    return None


def wanted(body: dict[str, Any]) -> tuple[bool, int]:
    return bool(body.get("logprobs")), int(body.get("top_logprobs", 0) or 0)


# -- /v1/chat/completions ------------------------------------------------------------------------------------------
_ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def _v1_error(status: int, message: str) -> JSONResponse:
    """middleware/openai.go writeError: Ollama's error text in OpenAI's envelope, the status kept."""
    return JSONResponse({"error": {"message": message, "type": _ERROR_TYPES.get(status, "api_error")}}, status)


def _text(content: Any) -> str:
    """openai.FromChatRequest: a string, or the text parts of a content array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def api_chat_body(request: dict[str, Any]) -> dict[str, Any]:
    """The /api/chat request Ollama's ChatMiddleware builds from an OpenAI one (the fields the double reads)."""
    messages = [{"role": m.get("role"), "content": _text(m.get("content"))} for m in request.get("messages") or []]
    body: dict[str, Any] = {"model": request.get("model"), "messages": messages, "stream": False}
    for key in ("tools", "logprobs", "top_logprobs"):
        if request.get(key) is not None:
            body[key] = request[key]
    if isinstance(request.get("response_format"), dict) and request["response_format"].get("type") == "json_object":
        body["format"] = "json"
    return body


def _usage(final: dict[str, Any]) -> dict[str, int]:
    prompt, completion = final.get("prompt_eval_count", 0), final.get("eval_count", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{index}",
            "index": index,
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])},
        }
        for index, c in enumerate(calls)
    ]


def completion(completion_id: str, final: dict[str, Any]) -> dict[str, Any]:
    """openai.ToChatCompletion."""
    message = final["message"]
    calls = _tool_calls(message.get("tool_calls") or [])
    reply: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
    if calls:
        reply["tool_calls"] = calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": reply,
        "finish_reason": "tool_calls" if calls else final.get("done_reason") or None,
    }
    if final.get("logprobs"):
        choice["logprobs"] = {"content": final["logprobs"]}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": final["model"],
        "system_fingerprint": "fp_ollama",
        "choices": [choice],
        "usage": _usage(final),
    }


def chunks(completion_id: str, final: dict[str, Any], words: list[str], include_usage: bool) -> Iterator[bytes]:
    """openai.ToChunk per /api/chat chunk (one word each here), the usage chunk, then [DONE]."""
    logprobs = final.get("logprobs") or []
    base = {"id": completion_id, "object": "chat.completion.chunk", "model": final["model"]}
    base["system_fingerprint"] = "fp_ollama"
    for index, word in enumerate(words):
        choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", "content": word}, "finish_reason": None}
        if index < len(logprobs):
            choice["logprobs"] = {"content": [logprobs[index]]}
        yield _sse(base | {"created": int(time.time()), "choices": [choice]})
    calls = _tool_calls(final["message"].get("tool_calls") or [])
    delta: dict[str, Any] = {"role": "assistant", "content": ""} | ({"tool_calls": calls} if calls else {})
    last = {"index": 0, "delta": delta, "finish_reason": "tool_calls" if calls else final.get("done_reason")}
    yield _sse(base | {"created": int(time.time()), "choices": [last]})
    if include_usage:
        yield _sse(base | {"created": int(time.time()), "choices": [], "usage": _usage(final)})
    yield b"data: [DONE]\n\n"


def _sse(obj: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def add_routes(app: FastAPI, double: OllamaDouble) -> None:
    """/v1/chat/completions and the test control PUT /_double/logprobs."""

    @app.post("/v1/chat/completions")
    async def v1_chat(request: Request) -> Any:
        try:
            raw = json.loads(await request.body() or b"null")
        except json.JSONDecodeError as exc:
            return _v1_error(400, f"invalid character at offset {exc.pos}")
        if not isinstance(raw, dict):
            return _v1_error(400, "json: cannot unmarshal into Go value of type openai.ChatCompletionRequest")
        if not raw.get("messages"):
            return _v1_error(400, "[] is too short - 'messages'")
        answer = await double._chat(api_chat_body(raw))
        if isinstance(answer, JSONResponse):
            return _v1_error(answer.status_code, json.loads(answer.body)["error"])
        completion_id = f"chatcmpl-{int(time.time() * 1000) % 1000}"
        if not raw.get("stream"):
            return completion(completion_id, answer)
        include_usage = bool((raw.get("stream_options") or {}).get("include_usage"))
        words = split_words(answer["message"].get("content", ""))
        return StreamingResponse(chunks(completion_id, answer, words, include_usage), media_type="text/event-stream")

    @app.put("/_double/logprobs")
    async def set_logprobs(request: Request) -> Any:
        body = await request.json()
        value = body.get("logprob") if isinstance(body, dict) else None
        if value is not None and (not isinstance(value, int | float) or value > 0):
            return JSONResponse({"error": "logprob must be a number <= 0, or null"}, status_code=400)
        double.fixed_logprob = None if value is None else float(value)
        return {"logprob": double.fixed_logprob}


def split_words(text: str) -> list[str]:
    """The double's tokens: words, each after the first with its leading space (as its /api/chat stream)."""
    words = text.split(" ") if text else []
    return [word if index == 0 else f" {word}" for index, word in enumerate(words)]
