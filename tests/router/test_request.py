"""Request bodies: every field that carries content is scanned (labels, ids and media are not), and the shapes
that are malformed (MALFORMED: the hook answers them with an OpenAI-style 400, `maximus route` with an `invalid`
line; see test_hook.py and test_cli.py)."""

from __future__ import annotations

from typing import Any

import pytest

from router.policy import RoutingPolicy
from router.privacy import PrivacyGuard
from tests.router import fakes
from tests.router.fakes import ask, user

SECRET = f"deploy with {fakes.DB_URL}"


def _call(arguments: str) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": "deploy", "arguments": arguments}}


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


def _call(arguments: str) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": "deploy", "arguments": arguments}}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"model": "max-auto", "instructions": SECRET, "input": "Say hi."}, id="responses-instructions"),
        pytest.param(
            {
                "model": "max-auto",
                "input": [
                    {"type": "function_call", "call_id": "c1", "name": "env", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c1", "output": SECRET},
                    {"role": "user", "content": [{"type": "input_text", "text": "Summarize that."}]},
                ],
            },
            id="responses-function-call-output",
        ),
        pytest.param(
            fakes.request(
                user("deploy it"),
                {"role": "assistant", "content": None, "function_call": {"name": "deploy", "arguments": SECRET}},
                user("thanks"),
            ),
            id="legacy-function-call",
        ),
        pytest.param(
            fakes.request(user("hi"), {"role": "assistant", "content": None, "refusal": SECRET}, user("why?")),
            id="refusal",
        ),
        pytest.param(
            ask(
                "Call the tool.",
                tools=[{"type": "function", "function": {"name": "db", "description": SECRET, "parameters": {}}}],
            ),
            id="tool-description",
        ),
        pytest.param(fakes.request(user({"type": "text", "text": SECRET})), id="content-as-object"),
        pytest.param(fakes.request(user("hi"), metadata={"trace": SECRET}), id="client-metadata"),
        pytest.param(fakes.request({"role": "user", "name": SECRET, "content": "hi"}), id="message-name"),
    ],
)
def test_every_content_field_is_scanned(guard: PrivacyGuard, policy: RoutingPolicy, body: dict[str, Any]) -> None:
    assert "db_connection_string" in guard.scan(body).detectors
    decision = policy.decide(body)
    assert decision.tier == "local" and decision.pinned_local


def test_labels_ids_media_and_gateway_metadata_are_not_scanned(guard: PrivacyGuard) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + fakes.HIGH_ENTROPY * 4}}
    gateway = {"headers": {"x-trace": SECRET}, "user_api_key_hash": SECRET, "maximus_tier": SECRET}
    body = fakes.request(user([{"type": "text", "text": "What is this?"}, image]), metadata=gateway)
    assert not guard.scan(body).hit


MALFORMED = [
    pytest.param(fakes.request(user("hi"), {"role": "assistant", "tool_calls": 5}), "messages[1].tool_calls", id="tc"),
    pytest.param({"model": "max-auto", "messages": []}, "messages", id="empty-messages"),
    pytest.param({"model": "max-auto", "messages": "hello"}, "messages", id="messages-string"),
    pytest.param({"model": "max-auto", "messages": ["hello"]}, "messages[0]", id="message-string"),
    pytest.param(fakes.request({"role": "user", "content": 5}), "messages[0].content", id="content-number"),
    pytest.param(ask("hi", tools=5), "tools", id="tools-number"),
]
