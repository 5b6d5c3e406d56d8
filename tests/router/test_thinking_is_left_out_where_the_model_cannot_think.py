"""Thinking settings on a request to a local model without Ollama's `thinking` capability are left out (Ollama
answers `think` to such a model with a 400), and kept for a model that thinks, on every API shape."""

from __future__ import annotations

import pytest

from router import thinking_fit
from router.capabilities import LocalModels
from router.decision import Decision

MODELS = LocalModels(
    {"max-buddy": "gemma3", "max-planner": "qwen3"},
    {"gemma3": frozenset({"completion", "vision"}), "qwen3": frozenset({"completion", "tools", "thinking"})},
)
ASKS = [
    {"thinking": {"type": "adaptive"}},  # Claude Code 2.1.332, /v1/messages
    {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    {"reasoning_effort": "high"},  # OpenAI SDK, /v1/chat/completions
    {"reasoning": {"effort": "medium", "summary": "auto"}},  # Codex, /v1/responses
    {"think": True},  # Ollama's own field
]


def body(**extra) -> dict:
    return {"model": "max-auto", "messages": [{"role": "user", "content": "say hello"}], **extra}


@pytest.mark.parametrize("asked", ASKS, ids=lambda a: next(iter(a)))
def test_a_model_that_cannot_think_gets_the_request_without_thinking(asked: dict) -> None:
    data, decision = body(**asked), Decision("local", "max-buddy")
    thinking_fit.fit(data, decision, MODELS)
    assert not set(thinking_fit.THINKING_FIELDS) & set(data), data
    assert data["messages"] == body()["messages"], "nothing else is touched"
    assert decision.reasons == ["capability: gemma3 does not think: answered without thinking"]


@pytest.mark.parametrize("asked", ASKS, ids=lambda a: next(iter(a)))
def test_a_model_that_thinks_keeps_the_request_as_sent(asked: dict) -> None:
    data, decision = body(**asked), Decision("local", "max-planner")
    thinking_fit.fit(data, decision, MODELS)
    assert data == body(**asked) and decision.reasons == []


@pytest.mark.parametrize(
    "off", [{}, {"thinking": {"type": "disabled"}}, {"reasoning_effort": "none"}, {"think": False}]
)
def test_a_request_that_does_not_ask_for_thinking_is_untouched(off: dict) -> None:
    data, decision = body(**off), Decision("local", "max-buddy")
    thinking_fit.fit(data, decision, MODELS)
    assert data == body(**off) and decision.reasons == []


def test_strong_tiers_and_unknown_capabilities_keep_thinking() -> None:
    """The power tier thinks as its CLI does; with Ollama not read yet nothing is known, so nothing is dropped
    (the local tier's own error would answer, as for tools)."""
    for decision, local in ((Decision("power", "max-genius"), MODELS), (Decision("local", "max-buddy"), None)):
        data = body(thinking={"type": "adaptive"})
        thinking_fit.fit(data, decision, local)
        assert data["thinking"] == {"type": "adaptive"}
