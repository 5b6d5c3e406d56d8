"""One request, parsed once into the view every routing step reads, whatever the API shape it came in.

Shapes: `chat` (/v1/chat/completions: `messages`), `responses` (/v1/responses: `input`, `instructions`, tools in
the Responses shape), `messages` (Anthropic's /v1/messages: top-level `system`, content blocks text, image,
tool_use, tool_result, document; tools with `input_schema`), `completions` (/v1/completions: `prompt`) and
`embedding` (/v1/embeddings: `input`). The privacy guard still walks every string of the body (router.request
all_texts, shape-blind on purpose: a new field can never hide text from it); everything else routing needs that
differs per shape is read here. No framework imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from router.request import IMAGE_PART_TYPES, VIDEO_PART_TYPES, MediaPart, all_texts, content_texts

SHAPES = ("chat", "responses", "messages", "completions", "embedding")
# LiteLLM 1.108.7's call_type (the proxy's route_type) of each shape (litellm.types.utils.CallTypes).
SHAPE_OF_CALL_TYPE: Mapping[str, str] = {
    "completion": "chat",
    "acompletion": "chat",
    "responses": "responses",
    "aresponses": "responses",
    "anthropic_messages": "messages",
    "aanthropic_messages": "messages",
    "text_completion": "completions",
    "atext_completion": "completions",
    "embedding": "embedding",
    "aembedding": "embedding",
}
OUTPUT_LIMIT_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
# Anthropic blocks that hold other blocks (a tool result carries the screenshot a tool took).
_NESTED_CONTENT_TYPES = frozenset({"tool_result"})


@dataclass(frozen=True)
class RequestView:
    shape: str
    body: dict[str, Any]  # the request as received (the guard scans it whole)
    model: str | None  # the model the client asked for
    prompt: str  # the latest user turn's text: what the classifier and the need model judge
    user_turns: int
    has_tools: bool  # tool definitions offered to the model
    media: tuple[MediaPart, ...]  # images and videos anywhere in the conversation
    stream: bool
    max_output_tokens: int | None

    def texts(self) -> Iterator[str]:
        """Every string the privacy guard scans (router.request.all_texts)."""
        return all_texts(self.body)

    @property
    def has_images(self) -> bool:
        return any(part.kind == "image" for part in self.media)

    @property
    def has_video(self) -> bool:
        return any(part.kind == "video" for part in self.media)

    @property
    def needs(self) -> frozenset[str]:
        """The Ollama capabilities (api/show `capabilities`) a local model needs to serve this request itself."""
        needed = {"embedding"} if self.shape == "embedding" else {"completion"}
        if self.has_tools:
            needed.add("tools")
        if self.has_images:
            needed.add("vision")
        return frozenset(needed)


def shape_of(request: Mapping[str, Any], call_type: str | None = None) -> str:
    """The shape from LiteLLM's call type when there is one, else from the body's keys (`maximus route`)."""
    if call_type in SHAPE_OF_CALL_TYPE:
        return SHAPE_OF_CALL_TYPE[call_type]
    if isinstance(request.get("messages"), list):
        return "messages" if _looks_anthropic(request) else "chat"
    if "instructions" in request or isinstance(request.get("input"), list) or "max_output_tokens" in request:
        return "responses"
    if "prompt" in request:
        return "completions"
    return "responses" if "input" in request else "chat"


def _looks_anthropic(request: Mapping[str, Any]) -> bool:
    if "system" in request:
        return True
    tools = request.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "input_schema" in t for t in tools):
        return True
    kinds = {_kind(block) for message in _dicts(request.get("messages")) for block in _blocks(message.get("content"))}
    return bool(kinds & {"tool_use", "tool_result", "document"}) or any(
        _kind(block) == "image" and "source" in block
        for message in _dicts(request.get("messages"))
        for block in _blocks(message.get("content"))
    )


def view_of(request: dict[str, Any], call_type: str | None = None) -> RequestView:
    shape = shape_of(request, call_type)
    turns = _turns(request, shape)
    model = request.get("model")
    return RequestView(
        shape=shape,
        body=request,
        model=model if isinstance(model, str) else None,
        prompt=_prompt(request, shape, turns),
        user_turns=sum(1 for turn in turns if turn.get("role") == "user"),
        has_tools=_has_tools(request, shape),
        media=tuple(_media(turns, request, shape)),
        stream=request.get("stream") is True,
        max_output_tokens=_output_limit(request),
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, dict):
        return [content]
    return _dicts(content)


def _kind(block: Mapping[str, Any]) -> Any:
    return block.get("type")


def _turns(request: Mapping[str, Any], shape: str) -> list[dict[str, Any]]:
    """The conversation's turns: `messages`, or the Responses `input` items (a message item may omit its type)."""
    if shape in ("chat", "messages"):
        return _dicts(request.get("messages"))
    if shape == "responses":
        return [item for item in _dicts(request.get("input")) if item.get("type", "message") == "message"]
    return []


def _prompt(request: Mapping[str, Any], shape: str, turns: list[dict[str, Any]]) -> str:
    users = [turn for turn in reversed(turns) if turn.get("role") == "user"]
    for turn in users:
        text = "\n".join(content_texts(turn.get("content")))
        if text or shape != "messages":
            return text
        # An Anthropic user turn that only returns tool results continues the task an earlier turn asked, as a
        # chat `tool` message or a Responses function_call_output does: that task is what is judged (a file's
        # contents are no question), so the next turn stays on the tier the task was given.
    if users:
        return "\n".join(_tool_result_texts(users[0].get("content")))
    value = request.get("prompt") if shape == "completions" else request.get("input")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return ""


def _tool_result_texts(content: Any) -> Iterator[str]:
    for block in _blocks(content):
        if _kind(block) in _NESTED_CONTENT_TYPES:
            yield from content_texts(block.get("content"))


def _has_tools(request: Mapping[str, Any], shape: str) -> bool:
    keys = ("tools", "functions") if shape == "chat" else ("tools",)
    return any(isinstance(request.get(key), list) and bool(request[key]) for key in keys)


def _media(turns: list[dict[str, Any]], request: Mapping[str, Any], shape: str) -> Iterator[MediaPart]:
    if shape == "responses" and isinstance(request.get("input"), list):
        # function_call_output items may carry images too; only message items were kept as turns
        turns = _dicts(request.get("input"))
    for turn in turns:
        yield from _media_of(turn.get("content") if "content" in turn else turn.get("output"))


def _media_of(content: Any) -> Iterator[MediaPart]:
    for block in _blocks(content):
        kind = _kind(block)
        if kind in IMAGE_PART_TYPES:
            yield MediaPart("image", _media_url(block, kind))
        elif kind in VIDEO_PART_TYPES:
            yield MediaPart("video", _media_url(block, kind))
        elif kind in _NESTED_CONTENT_TYPES:
            yield from _media_of(block.get("content"))


def _media_url(block: Mapping[str, Any], kind: str) -> str | None:
    """The part's address: OpenAI `image_url.url` (or a plain string), Responses `image_url`, Anthropic
    `source` (a URL source, or base64 data: not remote)."""
    source = block.get("source")
    if isinstance(source, dict):
        url = source.get("url")
        return url if isinstance(url, str) else "data:"
    for key in (kind, "image_url", "video_url"):
        value = block.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str):
            return value
    return None


def _output_limit(request: Mapping[str, Any]) -> int | None:
    for key in OUTPUT_LIMIT_KEYS:
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
