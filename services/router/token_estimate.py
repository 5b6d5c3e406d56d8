"""A local token estimate of an Anthropic messages body, for /v1/messages/count_tokens (Claude Code calls it to size
its context). Answered on this machine, never by a provider: LiteLLM's own endpoint picks a deployment and, for a
native `anthropic/` one, would send the whole prompt to the cloud to be counted.

tiktoken's cl100k_base over `system`, `messages` and `tools` as compact JSON (tool schemas count: Claude Code
sends ~20), base64 payloads left out, plus a few tokens per message and a fixed figure per image (routing.yaml
context.image_tokens). Claude's own tokenizer differs: this is an estimate, on the high side
of a chars/4 guess. tiktoken (a dependency of the pinned LiteLLM) reads LiteLLM's bundled encoding file, offline.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from router.request_view import view_of

log = logging.getLogger("maximus.router")

COUNTED_FIELDS = ("system", "messages", "tools")
PER_MESSAGE_TOKENS = 3  # role and separators
CHARS_PER_TOKEN = 4.0  # the fallback when no encoding can be loaded


def _bundled_cache_dir() -> str | None:
    """LiteLLM's bundled tiktoken files (litellm/litellm_core_utils/tokenizers), found without importing it."""
    spec = importlib.util.find_spec("litellm")
    for location in (spec.submodule_search_locations or ()) if spec else ():
        candidate = Path(location) / "litellm_core_utils" / "tokenizers"
        if candidate.is_dir():
            return str(candidate)
    return None


@lru_cache(maxsize=1)
def _encoding() -> Any:
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        bundled = _bundled_cache_dir()
        if bundled:
            os.environ["TIKTOKEN_CACHE_DIR"] = bundled
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # no encoding file and no network: fall back to characters
        log.warning("token estimate falls back to characters: %s", type(exc).__name__)
        return None


def _count(text: str) -> int:
    encoding = _encoding()
    if encoding is None:
        return int(len(text) / CHARS_PER_TOKEN) + 1
    return len(encoding.encode(text, disallowed_special=()))


def _without_media_data(value: Any) -> Any:
    """The body with base64 payloads (images, documents) emptied: they are counted per image, not as text."""
    if isinstance(value, dict):
        if value.get("type") == "base64" and "data" in value:
            return {**value, "data": ""}
        return {k: _without_media_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_media_data(v) for v in value]
    return value


def estimate_input_tokens(body: dict[str, Any], image_tokens: int = 800) -> int:
    """The input tokens of a /v1/messages body: the fields /v1/messages would send (system, messages, tools), as
    compact JSON (keys and structure count a little, as the provider's own framing does)."""
    counted = {key: body[key] for key in COUNTED_FIELDS if body.get(key) not in (None, "", [])}
    text = json.dumps(_without_media_data(counted), ensure_ascii=False, separators=(",", ":"))
    messages = body.get("messages")
    total = _count(text) + PER_MESSAGE_TOKENS * (len(messages) if isinstance(messages, list) else 0)
    total += image_tokens * sum(1 for part in view_of(body, "anthropic_messages").media if part.kind == "image")
    return max(total, 1)
