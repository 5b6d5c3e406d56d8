"""router.validation: every malformed chat-completions body is refused naming the field; valid ones pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.request import MalformedRequest
from router.validation import (
    BodyTooLarge,
    RequestLimits,
    check_chat_completion,
    check_encodable,
    check_model_api_body,
    parse_json_body,
)

LIMITS = RequestLimits()
VALID: dict[str, Any] = {"model": "max-auto", "messages": [{"role": "user", "content": "hello"}]}

# (change to a valid body, the param the error must name)
MALFORMED = [
    ({"model": None}, "model"),
    ({"model": 5}, "model"),
    ({"model": ""}, "model"),
    ({"model": "m" * 300}, "model"),
    ({"messages": "hello"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [5]}, "messages[0]"),
    ({"messages": [{"role": "king", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"stream": "yes"}, "stream"),
    ({"stream": 1}, "stream"),
    ({"max_tokens": -5}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "lots"}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"max_tokens": 10**30}, "max_tokens"),
    ({"max_completion_tokens": -1}, "max_completion_tokens"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": 1e308}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": "all"}, "top_p"),
    ({"n": 0}, "n"),
    ({"n": 1000}, "n"),
    ({"n": "two"}, "n"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"tools": {"type": "function"}}, "tools"),
    ({"tools": [5]}, "tools"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": [{"type": "function", "function": {"name": 7}}]}, "tools[0].function.name"),
    ({"tool_choice": 3}, "tool_choice"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"messages": [{"role": "user", "content": [{"type": "thinking", "text": "x"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages[0].content[0].type"),
    ({"tool_choice": {}}, "tool_choice.type"),
    ({"tool_choice": {"type": "wizard"}}, "tool_choice.type"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.function.name"),
    ({"tool_choice": {"type": "function", "function": {"name": ""}}}, "tool_choice.function.name"),
    ({"stop": [1, 2]}, "stop"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"metadata": "x"}, "metadata"),
    ({"user": 12}, "user"),
    ({"stream_options": True}, "stream_options"),
]


@pytest.mark.parametrize(("change", "param"), MALFORMED, ids=[json.dumps(c)[:40] for c, _ in MALFORMED])
def test_malformed_chat_body_names_the_field(change: dict[str, Any], param: str) -> None:
    with pytest.raises(MalformedRequest) as caught:
        check_chat_completion({**VALID, **change}, LIMITS)
    assert caught.value.param == param
    assert param.split(".")[0].split("[")[0] in caught.value.message


@pytest.mark.parametrize("body", [[1, 2, 3], "text", 5, None, True])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(MalformedRequest) as caught:
        check_chat_completion(body, LIMITS)
    assert caught.value.param == "body"
    with pytest.raises(MalformedRequest):
        check_model_api_body(body, LIMITS)


def test_valid_bodies_pass() -> None:
    check_chat_completion(VALID, LIMITS)
    full = {
        **VALID,
        "stream": True,
        "max_tokens": 100,
        "temperature": 0,
        "top_p": 1,
        "n": 1,
        "stop": ["\n"],
        "seed": 3,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": "auto",
        "metadata": {"tier": "local"},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "function": {"name": "f"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "ok"},
        ],
    }
    check_chat_completion(full, LIMITS)
    check_chat_completion({"messages": VALID["messages"]}, LIMITS, model_in_path=True)


@pytest.mark.parametrize(
    "raw",
    [b"[1,2", b"\xff\xfe", b'{"a": NaN}', b'{"a": Infinity}', b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "not-utf8", "nan", "infinity", "deep"],
)
def test_bytes_that_are_not_strict_json_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_json_body(raw, RequestLimits(max_body_bytes=1_000_000))
    assert caught.value.param == "body"


def test_a_body_over_the_limit_is_too_large() -> None:
    with pytest.raises(BodyTooLarge):
        parse_json_body(b"{}" + b" " * 100, RequestLimits(max_body_bytes=100))
    parse_json_body(b"{}" + b" " * 98, RequestLimits(max_body_bytes=100))


def test_a_lone_surrogate_is_refused_naming_where_it_is() -> None:
    body = parse_json_body(b'{"messages": [{"role": "user", "content": "a\\udc00b"}]}', LIMITS)
    with pytest.raises(MalformedRequest) as caught:
        check_encodable(body)
    assert caught.value.param == "messages[0].content"
    check_encodable(parse_json_body('{"x": "\\ud83d\\ude00 é"}'.encode(), LIMITS))  # a real pair is fine


@pytest.mark.parametrize(
    "choice",
    ["none", "required", {"type": "auto"}, {"type": "function", "function": {"name": "f"}}, {"type": "allowed_tools"}],
)
def test_every_openai_tool_choice_form_passes(choice: Any) -> None:
    check_chat_completion({**VALID, "tool_choice": choice}, LIMITS)
