"""Reading an OpenAI chat-completions body: every text the guard must scan, the prompt to classify, media parts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image", "image_file"})
VIDEO_PART_TYPES = frozenset({"video_url", "input_video", "video", "video_file"})


@dataclass(frozen=True)
class MediaPart:
    kind: str  # image | video
    url: str | None

    @property
    def is_remote(self) -> bool:
        return bool(self.url) and self.url.lower().startswith(("http://", "https://"))


MEDIA_PART_TYPES = IMAGE_PART_TYPES | VIDEO_PART_TYPES | frozenset({"file", "input_file", "input_audio", "audio"})
# Top-level keys whose string values are content the guard scans (chat, completions and Responses bodies, tool
# definitions); every other key (model, metadata, ids, sampling parameters) is not content.
CONTENT_KEYS = ("messages", "input", "instructions", "prompt", "suffix", "system", "tools", "functions")
# Keys under those whose values are labels or references, never content; media parts are skipped whole. A
# message's or tool's `name` is scanned: clients put people's names and addresses there.
NON_CONTENT_KEYS = frozenset(
    {"type", "role", "id", "tool_call_id", "call_id", "status", "detail", "format", "file_id", "strict"}
    | MEDIA_PART_TYPES
)
# Request `metadata` is the client's (a backend may receive it), except what LiteLLM and this router add to it
# before the guard runs (request headers, key hashes, routing labels).
_GATEWAY_METADATA_PREFIXES = ("headers", "user_api_key", "litellm", "maximus_", "requester_", "endpoint", "model_")
_MIN_TEXT = 6  # nothing shorter holds a secret or personal data the detectors can judge


class MalformedRequest(ValueError):
    """A request body the router cannot read: answered with an OpenAI-style 400 (param names the field)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _part_texts(part: Any) -> Iterator[str]:
    if isinstance(part, str):
        yield part
    elif isinstance(part, dict) and part.get("type", "text") in TEXT_PART_TYPES:
        text = part.get("text")
        if isinstance(text, str):
            yield text


def content_texts(content: Any) -> Iterator[str]:
    """The text of one message's content: a string, a list of parts, or a single part sent as an object."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            yield from _part_texts(part)
    elif isinstance(content, dict):
        yield from _part_texts(content)


def messages_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    if isinstance(messages, list):
        return [m for m in messages if isinstance(m, dict)]
    return []


def _is_media(value: dict[str, Any]) -> bool:
    kind = value.get("type")
    return isinstance(kind, str) and kind in MEDIA_PART_TYPES


def all_texts(request: dict[str, Any]) -> Iterator[str]:
    """Every string of the conversation the guard must scan: all messages (system, earlier turns, text parts of
    multimodal content, tool and function calls, refusals), Responses `instructions` and `input` items (tool
    outputs included), completion prompts and tool descriptions. A walk of every string value under the content
    keys, whatever its shape, minus labels (type, role, ids, names), media parts and data URLs."""
    stack: list[Any] = [request.get(key) for key in reversed(CONTENT_KEYS)]
    stack.insert(0, _client_metadata(request.get("metadata")))
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if len(value) >= _MIN_TEXT and not value.startswith("data:"):
                yield value
        elif isinstance(value, dict):
            if not _is_media(value):
                stack.extend(v for k, v in reversed(value.items()) if k not in NON_CONTENT_KEYS)
        elif isinstance(value, list):
            stack.extend(reversed(value))


def _client_metadata(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return None
    return {k: v for k, v in metadata.items() if not str(k).startswith(_GATEWAY_METADATA_PREFIXES)}


def _input_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    value = request.get("input")
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def last_user_text(request: dict[str, Any]) -> str:
    """The text of the latest user turn: what the classifier judges."""
    for message in reversed(messages_of(request) or _input_messages(request)):
        if message.get("role") == "user":
            return "\n".join(content_texts(message.get("content")))
    prompt = request.get("prompt") or request.get("input")
    return prompt if isinstance(prompt, str) else ""


def _check(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise MalformedRequest(message, param)


def _check_message(message: Any, param: str) -> None:
    _check(isinstance(message, dict), f"'{param}' must be an object.", param)
    content = message.get("content")
    _check(
        content is None or isinstance(content, (str, dict, list)),
        f"'{param}.content' must be a string or an array of content parts.",
        f"{param}.content",
    )
    if isinstance(content, list):
        _check(
            all(isinstance(part, (str, dict)) for part in content),
            f"'{param}.content' parts must be objects.",
            f"{param}.content",
        )
    tool_calls = message.get("tool_calls")
    _check(
        tool_calls is None or (isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls)),
        f"'{param}.tool_calls' must be an array of tool call objects.",
        f"{param}.tool_calls",
    )
    for i, call in enumerate(tool_calls or ()):
        function = call.get("function")
        _check(
            function is None or isinstance(function, dict),
            f"'{param}.tool_calls[{i}].function' must be an object.",
            f"{param}.tool_calls[{i}].function",
        )
    function_call = message.get("function_call")
    _check(
        function_call is None or isinstance(function_call, dict),
        f"'{param}.function_call' must be an object.",
        f"{param}.function_call",
    )


def check_request(request: Any, chat: bool) -> None:
    """Raises MalformedRequest when the body's fields that routing reads have the wrong type, or when a chat
    request has no messages (OpenAI answers both with 400)."""
    _check(isinstance(request, dict), "The request body must be a JSON object.", "body")
    messages = request.get("messages")
    if chat or messages is not None:
        _check(isinstance(messages, list), "'messages' must be an array of message objects.", "messages")
        _check(not chat or bool(messages), "'messages' must contain at least one message.", "messages")
        for i, message in enumerate(messages):
            _check_message(message, f"messages[{i}]")
    for key in ("tools", "functions"):
        value = request.get(key)
        _check(
            value is None or (isinstance(value, list) and all(isinstance(t, dict) for t in value)),
            f"'{key}' must be an array of objects.",
            key,
        )
    _check(
        request.get("instructions") is None or isinstance(request["instructions"], str),
        "'instructions' must be a string.",
        "instructions",
    )
    _check(
        request.get("input") is None or isinstance(request["input"], (str, list)),
        "'input' must be a string or an array of input items.",
        "input",
    )


def _media_url(part: dict[str, Any], key: str) -> str | None:
    value = part.get(key)
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else None


def media_parts(request: dict[str, Any]) -> list[MediaPart]:
    found = []
    for message in messages_of(request):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in IMAGE_PART_TYPES:
                found.append(MediaPart("image", _media_url(part, kind if kind in part else "image_url")))
            elif kind in VIDEO_PART_TYPES:
                found.append(MediaPart("video", _media_url(part, kind if kind in part else "video_url")))
    return found
