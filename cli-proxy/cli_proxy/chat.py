"""OpenAI chat requests: checked for what a CLI can honour, then turned into a system prompt and a transcript."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from cli_proxy.adapters.base import Prompt
from maximus_kernel.openai_errors import OpenAIError

_SYSTEM_ROLES = {"system", "developer"}
# A client that names its conversation (a session id) keeps it on one account by that name.
CONVERSATION_HEADERS = ("x-conversation-id", "x-session-id", "x-claude-code-session-id")
_TURN_ROLES = {"user", "assistant"}


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    n: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    logprobs: bool | None = None
    audio: Any = None
    response_format: dict[str, Any] | None = None
    stream_options: dict[str, Any] | None = None


def _unset(value: Any) -> bool:
    """null, false, 0, "", [] or {}: what clients send for a parameter they do not use."""
    return value is None or (isinstance(value, bool | int | float | str | list | dict) and not value)


def _bad(message: str, param: str | None = None, code: str = "unsupported_parameter") -> OpenAIError:
    return OpenAIError(400, message, code=code, param=param)


def check_supported(req: ChatRequest, refused: Mapping[str, str]) -> None:
    """A clear 400 for every parameter a CLI cannot honour (`refused`: name -> reason, from the config)."""
    if _bad_text_path(req.model) is not None:
        raise _bad("'model' is not valid UTF-8 text (lone surrogate).", "model", "invalid_request")
    if req.n is not None and req.n != 1:
        raise _bad("n > 1 is not supported: a CLI gives one answer per request.", "n")
    for name, reason in refused.items():
        value = getattr(req, name, None)
        if not _unset(value):
            raise _bad(f"'{name}': {reason}.", name)
    if req.tool_choice not in (None, "none", "auto"):
        raise _bad("'tool_choice': tools are not supported by the CLI proxy.", "tool_choice")
    if req.response_format and req.response_format.get("type") not in (None, "text"):
        raise _bad("'response_format': only text answers are supported by the CLI proxy.", "response_format")
    if not req.messages:
        raise _bad("'messages' must hold at least one message.", "messages", "invalid_request")


def _bad_text_path(value: Any, path: str = "") -> str | None:
    """Where in `value` a string cannot be encoded as UTF-8 (a lone surrogate such as "\\ud800"), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if (found := _bad_text_path(key, path)) is not None:
            return found
        if (found := _bad_text_path(item, f"{path}.{key}" if path else str(key))) is not None:
            return found
    return None


def _check_encodable(message: dict[str, Any], index: int) -> None:
    """Every string of a message must be UTF-8 text: the CLIs read UTF-8 (stdin, files)."""
    where = _bad_text_path(message)
    if where is not None:
        param = f"messages.{index}" + (f".{where}" if where else "")
        raise _bad(
            f"messages[{index}] holds text that is not valid UTF-8 (a lone surrogate such as \\ud800) at '{param}'.",
            param,
            "invalid_request",
        )


def _text(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _bad(
                    f"messages[{index}]: content parts of type '{kind}' are not supported; only text reaches the CLIs.",
                    f"messages.{index}.content",
                )
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise _bad(
        f"messages[{index}].content must be a string or a list of text parts.",
        f"messages.{index}.content",
        "invalid_request",
    )


def build_prompt(req: ChatRequest) -> Prompt:
    """System and developer messages become the system prompt; earlier turns a transcript; the last the ask."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(req.messages):
        _check_encodable(message, index)
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            system.append(_text(message, index))
        elif role in _TURN_ROLES:
            if message.get("tool_calls"):
                raise _bad(f"messages[{index}]: tool calls are not supported.", f"messages.{index}.tool_calls")
            turns.append((role, _text(message, index)))
        else:
            raise _bad(f"messages[{index}]: role '{role}' is not supported (tools are off).", f"messages.{index}.role")
    if not turns or turns[-1][0] != "user":
        raise _bad("The last message must come from the user.", "messages", "invalid_request")
    return Prompt("\n\n".join(s for s in system if s) or None, _transcript(turns))


def _transcript(turns: list[tuple[str, str]]) -> str:
    if len(turns) == 1:
        return turns[0][1]
    lines = ["Here is our conversation so far:", ""]
    for role, text in turns[:-1]:
        lines += [f"<{role}>", text, f"</{role}>", ""]
    lines += ["Reply to this last message from the user:", "", turns[-1][1]]
    return "\n".join(lines)


def conversation_key(headers: Mapping[str, str], req: ChatRequest) -> str:
    """Which conversation a request continues: the id a client sends, else a hash of how it began (its system
    prompt and first user message, which every later turn repeats). Only the hash is kept, never the text."""
    given = next((headers[h] for h in CONVERSATION_HEADERS if headers.get(h)), None)
    if given:
        return "id:" + hashlib.sha256(given.encode(errors="replace")).hexdigest()[:32]
    system = next((m.get("content") for m in req.messages if m.get("role") in _SYSTEM_ROLES), None)
    first = next((m.get("content") for m in req.messages if m.get("role") == "user"), None)
    opening = json.dumps([system, first], sort_keys=True, ensure_ascii=True, default=str)
    return "h:" + hashlib.sha256(opening.encode(errors="replace")).hexdigest()[:32]
