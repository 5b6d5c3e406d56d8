"""router.request_view: one parse of a request, whatever its API shape, gives the same facts to routing."""

from __future__ import annotations

from typing import Any

import pytest

from router.request_view import shape_of, view_of
from tests.router import fakes

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
ANTHROPIC_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
ANTHROPIC_TOOL = {"name": "now", "description": "the time", "input_schema": {"type": "object", "properties": {}}}
RESPONSES_TOOL = {"type": "function", "name": "now", "parameters": {"type": "object", "properties": {}}}
CHAT_TOOL = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}

# (call type, body): each says "what time is it" with one tool, in its own shape
SAME_QUESTION: list[tuple[str, dict[str, Any]]] = [
    ("acompletion", {"model": "max-auto", "messages": [fakes.user("what time is it")], "tools": [CHAT_TOOL]}),
    ("aresponses", {"model": "max-auto", "input": "what time is it", "tools": [RESPONSES_TOOL]}),
    (
        "aresponses",
        {
            "model": "max-auto",
            "instructions": "be brief",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "what time is it"}]}],
            "tools": [RESPONSES_TOOL],
        },
    ),
    (
        "anthropic_messages",
        {
            "model": "max-auto",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "be brief"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "what time is it"}]}],
            "tools": [ANTHROPIC_TOOL],
        },
    ),
]


@pytest.mark.parametrize(
    ("call_type", "body"), SAME_QUESTION, ids=["chat", "responses-text", "responses-items", "messages"]
)
def test_the_same_question_reads_the_same_in_every_shape(call_type: str, body: dict[str, Any]) -> None:
    view = view_of(body, call_type)
    assert view.prompt == "what time is it"
    assert view.has_tools and view.needs == {"completion", "tools"}
    assert view.model == "max-auto" and not view.stream and not view.media


def test_shape_from_the_call_type_and_from_the_body() -> None:
    assert view_of({"messages": [fakes.user("hi")]}, "anthropic_messages").shape == "messages"
    assert view_of({"prompt": "hi"}, "atext_completion").shape == "completions"
    assert view_of({"input": "hi"}, "aembedding").shape == "embedding"
    # `maximus route` has no call type: the body's keys tell
    assert shape_of({"messages": [fakes.user("hi")]}) == "chat"
    assert shape_of({"system": "be brief", "messages": [fakes.user("hi")]}) == "messages"
    assert shape_of({"messages": [fakes.user([ANTHROPIC_IMAGE])]}) == "messages"
    assert shape_of({"messages": [fakes.user("hi")], "tools": [ANTHROPIC_TOOL]}) == "messages"
    assert shape_of({"instructions": "x", "input": "hi"}) == "responses"
    assert shape_of({"prompt": "hi"}) == "completions"


def test_anthropic_images_are_found_in_blocks_and_in_tool_results() -> None:
    screenshot = {"type": "tool_result", "tool_use_id": "t1", "content": [ANTHROPIC_IMAGE]}
    body = {
        "messages": [fakes.user([{"type": "text", "text": "what is this"}, ANTHROPIC_IMAGE]), fakes.user([screenshot])]
    }
    view = view_of(body, "anthropic_messages")
    assert [part.kind for part in view.media] == ["image", "image"]
    assert not any(part.is_remote for part in view.media), "base64 sources are not remote URLs"
    assert view.needs == {"completion", "vision"}
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    assert view_of({"messages": [fakes.user([url])]}, "anthropic_messages").media[0].is_remote


def test_responses_and_chat_images() -> None:
    responses = {
        "input": [{"role": "user", "content": [{"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}]
    }
    assert view_of(responses, "aresponses").has_images
    chat = fakes.request(fakes.user([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]))
    view = view_of(chat, "acompletion")
    assert view.has_images and view.media[0].is_remote


def test_a_tool_result_turn_is_judged_by_the_task_it_continues() -> None:
    """Claude Code's latest user turn is often only tool results: the task an earlier turn asked is judged, as a
    chat `tool` message or a Responses function_call_output is, so the tool turn stays on the task's tier."""
    result = {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42 files changed"}]}
    body = {"messages": [fakes.user("refactor it"), {"role": "assistant", "content": "ok"}, fakes.user([result])]}
    view = view_of(body, "anthropic_messages")
    assert view.prompt == "refactor it" and view.user_turns == 2


def test_a_conversation_of_tool_results_only_is_judged_by_its_latest_result() -> None:
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "42 files changed"}
    view = view_of({"messages": [fakes.user([result])]}, "anthropic_messages")
    assert view.prompt == "42 files changed"


def test_the_task_is_judged_alike_on_every_shape_that_returns_tool_output() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
    chat = {
        "messages": [
            fakes.user("refactor it"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "42 files changed"},
        ]
    }
    responses = {
        "input": [
            {"role": "user", "content": "refactor it"},
            {"type": "function_call", "call_id": "c1", "name": "ls", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42 files changed"},
        ]
    }
    assert view_of(chat, "acompletion").prompt == view_of(responses, "aresponses").prompt == "refactor it"


def test_stream_output_limit_and_model() -> None:
    view = view_of({"model": "claude-haiku-4-5", "max_tokens": 1, "stream": True, "messages": [fakes.user("hi")]})
    assert (view.model, view.max_output_tokens, view.stream) == ("claude-haiku-4-5", 1, True)
    assert view_of({"input": "x", "max_output_tokens": 99}, "aresponses").max_output_tokens == 99
    assert view_of({"input": "x", "stream": "yes"}, "aresponses").stream is False


def test_no_tools_when_the_list_is_empty() -> None:
    assert not view_of({"messages": [fakes.user("hi")], "tools": []}, "acompletion").has_tools
    assert view_of({"messages": [fakes.user("hi")], "functions": [{"name": "f"}]}, "acompletion").has_tools


def test_the_guard_still_reads_every_string_of_every_shape() -> None:
    """texts() is router.request.all_texts: system, tool results, documents and instructions are all scanned."""
    secret = fakes.GITHUB_TOKEN
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": f"token {secret}"}}
    for body in (
        {"system": f"deploy with {secret}", "messages": [fakes.user("hi")]},
        {"messages": [fakes.user([{"type": "tool_result", "tool_use_id": "t", "content": f"out {secret}"}])]},
        {"messages": [fakes.user([document])]},
        {"instructions": f"use {secret}", "input": "hi"},
    ):
        assert any(secret in text for text in view_of(body).texts()), body
