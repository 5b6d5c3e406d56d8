"""Context fit: does the request fit the local model's context window (rough token estimate)?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.config import RoutingConfig
from router.request import all_texts, media_parts
from router.request_view import RequestView


@dataclass(frozen=True)
class ContextFit:
    fits: bool
    estimated_tokens: int
    window: int | None


def estimate_tokens(request: dict[str, Any], config: RoutingConfig) -> int:
    chars = sum(len(text) for text in all_texts(request))
    images = len(media_parts(request))
    return int(chars / config.context.chars_per_token) + images * config.context.image_tokens


def check(request: dict[str, Any], config: RoutingConfig) -> ContextFit:
    window = config.tiers["local"].context_window
    estimate = estimate_tokens(request, config)
    if not window:
        return ContextFit(True, estimate, None)
    output = request.get("max_completion_tokens") or request.get("max_tokens")
    reserve = output if isinstance(output, int) and output > 0 else config.context.reserve_output_tokens
    return ContextFit(estimate + reserve <= window, estimate, window)


def check_view(view: RequestView, config: RoutingConfig) -> ContextFit:
    """check() for a parsed request of any shape (its media and output limit read per shape)."""
    window = config.tiers["local"].context_window
    chars = sum(len(text) for text in view.texts())
    estimate = int(chars / config.context.chars_per_token) + len(view.media) * config.context.image_tokens
    if not window:
        return ContextFit(True, estimate, None)
    reserve = view.max_output_tokens or config.context.reserve_output_tokens
    return ContextFit(estimate + reserve <= window, estimate, window)
