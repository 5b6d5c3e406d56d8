"""Thinking on a local model that cannot think: the request's thinking settings are left out, so that the model
answers without them, as Anthropic's API answers a model without extended thinking.

Claude Code sends `thinking` on every request (2.1.332: {"type": "adaptive"}), Codex sends `reasoning`, the
OpenAI SDK `reasoning_effort`; LiteLLM 1.108.7 turns each into Ollama's `think`, and Ollama (0.12.6) answers
`think` to a model without the `thinking` capability with a 400 ("... does not support thinking"). A model that
has the capability keeps the settings. No framework imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.capabilities import LocalModels
from router.decision import Decision

# The request fields that ask for thinking, per shape: Anthropic `thinking`, chat `reasoning_effort` (and
# LiteLLM's own `thinking`), Responses `reasoning`, Ollama's native `think`.
THINKING_FIELDS = ("thinking", "reasoning_effort", "reasoning", "think")
_OFF = (None, False, "none", "disabled")


def asks_thinking(body: Mapping[str, Any]) -> bool:
    """Whether any field asks the model to think (a field that turns thinking off does not)."""
    for field in THINKING_FIELDS:
        value = body.get(field)
        if isinstance(value, Mapping):
            value = value.get("type", value.get("effort", True))
        if value not in _OFF:
            return True
    return False


def fit(data: dict[str, Any], decision: Decision, local: LocalModels | None) -> None:
    """Leave the thinking fields out of a request going to a local model without `thinking` (its reason noted)."""
    if local is None or decision.tier != "local" or not asks_thinking(data):
        return
    model = local.model_of(decision.model)
    if model is None or local.can(decision.model, {"thinking"}):
        return
    for field in THINKING_FIELDS:
        data.pop(field, None)
    decision.reasons.append(f"capability: {model} does not think: answered without thinking")
