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


def _part_texts(part: Any) -> Iterator[str]:
    if isinstance(part, str):
        yield part
    elif isinstance(part, dict) and part.get("type", "text") in TEXT_PART_TYPES:
        text = part.get("text")
        if isinstance(text, str):
            yield text


def content_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            yield from _part_texts(part)


def _tool_call_texts(message: dict[str, Any]) -> Iterator[str]:
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            yield function["arguments"]


def messages_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    if isinstance(messages, list):
        return [m for m in messages if isinstance(m, dict)]
    return []


def all_texts(request: dict[str, Any]) -> Iterator[str]:
    """Every text of the conversation: system, earlier turns, tool calls, text parts of multimodal content."""
    for message in messages_of(request):
        yield from content_texts(message.get("content"))
        yield from _tool_call_texts(message)
    for key in ("prompt", "input"):  # completions / responses-style bodies
        value = request.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, dict):
                    yield from content_texts(item.get("content"))


def last_user_text(request: dict[str, Any]) -> str:
    """The text of the latest user turn: what the classifier judges."""
    for message in reversed(messages_of(request)):
        if message.get("role") == "user":
            return "\n".join(content_texts(message.get("content")))
    prompt = request.get("prompt") or request.get("input")
    return prompt if isinstance(prompt, str) else ""


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
