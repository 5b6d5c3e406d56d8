"""Context fit: does the request fit the local model's context window (rough token estimate)?"""

from __future__ import annotations

from dataclasses import dataclass

from router.config import RoutingConfig
from router.request_view import RequestView


@dataclass(frozen=True)
class ContextFit:
    fits: bool
    estimated_tokens: int
    window: int | None


def check_view(view: RequestView, config: RoutingConfig) -> ContextFit:
    """Does the request (any shape: its media and output limit read per shape) fit the local window?"""
    window = config.tiers["local"].context_window
    chars = sum(len(text) for text in view.texts())
    estimate = int(chars / config.context.chars_per_token) + len(view.media) * config.context.image_tokens
    if not window:
        return ContextFit(True, estimate, None)
    return ContextFit(estimate + output_reserve(view, config) <= window, estimate, window)


def output_reserve(view: RequestView, config: RoutingConfig) -> int:
    """The window kept free for the answer. A client's max_tokens is a ceiling on the answer, not its length:
    Claude Code asks 32000 on every request, and the Anthropic SDK's examples 1024 to 64000. Reserving all of
    it would send a short question to the power tier because its ceiling is high, so the reserve is capped
    (context.max_reserve_output_tokens); a longer answer ends at the window, as Ollama ends it."""
    asked = view.max_output_tokens or config.context.reserve_output_tokens
    return min(asked, config.context.max_reserve_output_tokens)
