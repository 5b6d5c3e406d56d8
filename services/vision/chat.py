"""Chat answers about images and video, grounded in what V-JEPA 2 recognised.

The findings (top labels for a classifier checkpoint, similarities between inputs for an encoder) make a
plain answer. When VISION_CHAT_API_BASE is set, the local chat model phrases the answer through LiteLLM: only a
local model group is allowed (settings), and the request carries `disable_fallbacks` so LiteLLM never hands
it to a cloud tier. The pictures themselves are never sent on. The phrasing request is part of the image chat
LiteLLM already counts: its metadata says so (`maximus_internal`), so the tracker does not count it again.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from maximus_kernel.openai_errors import OpenAIError
from vision.runtime import Analysed, VisionRuntime
from vision.settings import VisionSettings

log = logging.getLogger("vision")

MEDIA_PARTS = {"image_url": "image", "input_image": "image", "video_url": "video", "input_video": "video"}
CHAT_TOP_K = 3
# Metadata of the phrasing request (LiteLLM hands it to the tracker's callback): a sub-request, not a request.
INTERNAL_META = "maximus_internal"
PARENT_META = "maximus_parent"
PHRASE_TAG = "vision_phrase"
SYSTEM_PROMPT = (
    "You answer questions about images and videos. You cannot see them: a local video model (V-JEPA 2) "
    "analysed them and its findings are below. Base your answer only on these findings, say plainly what "
    "they cannot tell, and do not invent details. Be brief."
)


@dataclass
class ChatInput:
    media: list[str]
    kinds: list[str]
    question: str


def _part_url(part: dict[str, Any], field: str) -> Any:
    value = part.get(field)
    if isinstance(value, dict):
        return value.get("url")
    return value


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def parse_messages(messages: list[dict[str, Any]]) -> ChatInput:
    """Every image or video part of the user's messages, in order, and the last user question."""
    media, kinds, question = [], [], ""
    for m_index, message in enumerate(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        question = _text_of(content).strip() or question
        if not isinstance(content, list):
            continue
        for p_index, part in enumerate(content):
            kind = MEDIA_PARTS.get(part.get("type", "")) if isinstance(part, dict) else None
            if kind is None:
                continue
            url = _part_url(part, part["type"]) or _part_url(part, "image_url")
            if not isinstance(url, str) or not url:
                raise OpenAIError(
                    400,
                    f"The {part['type']} part has no url.",
                    code="invalid_input",
                    param=f"messages[{m_index}].content[{p_index}]",
                )
            media.append(url)
            kinds.append(kind)
    if not media:
        raise OpenAIError(
            400,
            "This model answers about images and video: add an image_url or video_url content part (base64 data URL).",
            code="no_media",
            param="messages",
        )
    return ChatInput(media, kinds, question)


def _name(kind: str, index: int) -> str:
    return f"{'Video' if kind in ('video', 'frames') else 'Image'} {index + 1}"


def _similarity_words(value: float) -> str:
    if value > 0.9:
        return "nearly the same scene"
    if value > 0.7:
        return "similar"
    if value > 0.4:
        return "somewhat alike"
    return "different"


def findings(runtime: VisionRuntime, analysed: list[Analysed]) -> tuple[str, list[dict[str, Any]]]:
    """A plain-text account of what the model recognised, and the same as data."""
    model = runtime.require_model()
    lines, data = [], []
    if model.kind == "classifier":
        lines.append(
            f"V-JEPA 2 action classifier ({len(model.labels)} known actions) analysed {len(analysed)} input(s)."
        )
    else:
        lines.append(
            f"V-JEPA 2 encoder analysed {len(analysed)} input(s). This checkpoint has no "
            "classification head: it measures visual similarity but cannot name actions or objects."
        )
    for index, item in enumerate(analysed):
        labels = runtime.top_labels(item.result, CHAT_TOP_K)
        entry: dict[str, Any] = {"index": index, "kind": item.clip.kind, "frames": item.clip.source_frames}
        name = _name(item.clip.kind, index)
        if labels:
            entry["labels"] = labels
            ranked = ", then ".join(f"'{lab['label']}' ({lab['score']:.0%})" for lab in labels)
            lines.append(f"{name}: most likely {ranked}.")
        else:
            lines.append(f"{name}: {item.clip.kind}, {item.clip.source_frames} frame(s), embedded.")
        data.append(entry)
    for i in range(len(analysed)):
        for j in range(i + 1, len(analysed)):
            sim = float(analysed[i].result.embedding @ analysed[j].result.embedding)
            data[i].setdefault("similar_to", []).append({"index": j, "cosine": round(sim, 4)})
            lines.append(
                f"{_name(analysed[i].clip.kind, i)} and {_name(analysed[j].clip.kind, j).lower()}: "
                f"cosine similarity {sim:.2f} ({_similarity_words(sim)})."
            )
    return "\n".join(lines), data


def phrase_metadata(parent: str | None) -> dict[str, str]:
    """Tags the phrasing request as part of the image chat being answered (`parent`: that answer's id)."""
    return {INTERNAL_META: PHRASE_TAG, **({PARENT_META: parent} if parent else {})}


async def phrase(
    settings: VisionSettings, facts: str, question: str, max_tokens: int | None, parent: str | None = None
) -> str | None:
    """The local chat model's wording of the findings, or None when not configured or unreachable."""
    if not settings.chat_api_base:
        return None
    if settings.chat_model not in settings.local_chat_models:  # settings refuse this too; never send it
        return None
    body: dict[str, Any] = {
        "model": settings.chat_model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Findings:\n{facts}\n\nQuestion: {question or 'What is shown?'}"},
        ],
        "stream": False,
        "disable_fallbacks": True,
        "metadata": phrase_metadata(parent),
    }
    if max_tokens:
        body["max_tokens"] = max_tokens
    headers = {"Authorization": f"Bearer {settings.chat_api_key}"} if settings.chat_api_key else {}
    url = settings.chat_api_base.rstrip("/") + "/chat/completions"
    try:
        async with httpx.AsyncClient(timeout=settings.chat_timeout_s) as client:
            response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("local chat model did not phrase the answer (%s); using the plain findings", type(exc).__name__)
        return None
    return text.strip() if isinstance(text, str) and text.strip() else None


def completion(model_name: str, answer: str, usage: dict[str, int], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": usage,
        **extra,
    }


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def stream_chunks(full: dict[str, Any], include_usage: bool, piece_chars: int = 200) -> Iterator[str]:
    """A finished completion as OpenAI's server-sent chat.completion.chunk events."""
    answer = full["choices"][0]["message"]["content"]
    head = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"], "model": full["model"]}

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    yield _sse(chunk({"role": "assistant", "content": ""}, None))
    for start in range(0, len(answer), piece_chars):
        yield _sse(chunk({"content": answer[start : start + piece_chars]}, None))
    yield _sse(chunk({}, "stop"))
    if include_usage:
        yield _sse({**head, "choices": [], "usage": full["usage"]})
    yield _sse("[DONE]")
