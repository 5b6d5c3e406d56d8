"""Request bodies (issue 6 review): every field that carries content is scanned, and a malformed body is a clear
OpenAI-style 400 in the hook and an `invalid` line from `maximus route`, never a crash."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download when LiteLLM imports

import pytest
from fastapi import HTTPException

from router.cli import route_stream
from router.litellm_hook import RoutingHook
from router.policy import RoutingPolicy
from router.privacy import PrivacyGuard
from tests.router import fakes
from tests.router.fakes import ask, user

REPO = Path(__file__).resolve().parents[2]
SECRET = f"deploy with {fakes.DB_URL}"


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


@pytest.mark.parametrize(("body", "param"), MALFORMED)
async def test_hook_answers_malformed_bodies_with_an_openai_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(HTTPException) as caught:
        await RoutingHook().async_pre_call_hook(None, None, body, "acompletion")
    assert caught.value.status_code == 400
    error = caught.value.detail["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


async def test_hook_requires_messages_for_chat_only() -> None:
    with pytest.raises(HTTPException):
        await RoutingHook().async_pre_call_hook(None, None, {"model": "max-auto"}, "acompletion")
    out = await RoutingHook().async_pre_call_hook(None, None, {"model": "max-auto", "input": "hi"}, "aresponses")
    assert out["metadata"]["maximus_tier"] == "local"


def _route(text: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = route_stream(io.StringIO(text), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_cli_answers_every_malformed_line_and_goes_on() -> None:
    lines = [json.dumps(p.values[0]) for p in MALFORMED] + [json.dumps(ask("Write a haiku about rain."))]
    code, out = _route("\n".join(lines) + "\n")
    assert code == 0 and len(out) == len(lines)
    for line in out[:-1]:
        assert set(line) == {"tier", "model", "reasons"}
        assert line["tier"] == "local" and "invalid" in line["reasons"][0]
    assert out[-1]["tier"] == "creative"


def test_cli_survives_an_unexpected_error_on_one_line(monkeypatch) -> None:
    from router import cli

    real = cli.route_line

    def flaky(policy, line, spend, health):
        if "boom" in line:
            raise RuntimeError("boom")
        return real(policy, line, spend, health)

    monkeypatch.setattr(cli, "route_line", flaky)
    code, out = _route(json.dumps(ask("boom")) + "\n" + json.dumps(ask("hello")) + "\n")
    assert code == 0 and [line["tier"] for line in out] == ["local", "local"]
    assert "invalid" in out[0]["reasons"][0] and "boom" not in json.dumps(out[0])


def test_cli_lone_surrogate_and_bad_bytes_exit_0_with_one_line_each() -> None:
    lines = [
        b'{"model": "max-auto", "metadata": {"tier": "\\ud800"}, "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "max-auto", "messages": [{"role": "user", "content": "caf\xe9 \\udfff"}]}',
        json.dumps(ask("hello")).encode(),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "router.cli"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line) for line in result.stdout.decode("ascii").splitlines()]
    assert len(out) == 3 and all(line["tier"] == "local" for line in out)
