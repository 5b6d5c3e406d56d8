"""Contract tests: the real proxy over HTTP, the fake CLIs printing the documented formats."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_proxy.conftest import API_KEY, RunningProxy, pid_alive, read_pidfile, wait_gone

MODELS = ["claude-opus", "gemini-2.5-pro", "gpt-5.5"]


def sse_events(text: str) -> list[Any]:
    events = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append("[DONE]" if data == "[DONE]" else json.loads(data))
    return events


def stream(proxy: RunningProxy, model: str, messages: list[dict[str, Any]]) -> httpx.Response:
    with proxy.client() as client:
        response = client.post("/v1/chat/completions", json={"model": model, "messages": messages, "stream": True})
        response.read()
        return response


def content_of(events: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if isinstance(e, dict) and e.get("choices")
    )


# --- success -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_non_streaming_answer_with_real_usage(proxy: RunningProxy, model: str) -> None:
    response = proxy.chat(model, "Say hello")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == model
    assert body["choices"][0]["message"]["content"].startswith("Hello from fake")
    assert body["choices"][0]["finish_reason"] == "stop"
    expected = {"claude-opus": (20, 40, 5), "gemini-2.5-pro": (11744, 47, 100), "gpt-5.5": (24763, 122, 24448)}
    prompt, completion, cached = expected[model]
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)
    assert usage["total_tokens"] == prompt + completion
    assert usage["prompt_tokens_details"]["cached_tokens"] == cached
    assert ("cost" in usage) == (model == "claude-opus")


@pytest.mark.parametrize("model", ["claude-opus", "gemini-2.5-pro"])
def test_streaming_sends_each_delta_as_its_own_chunk(proxy: RunningProxy, model: str) -> None:
    response = stream(proxy, model, [{"role": "user", "content": "Say hello"}])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["role"] == "assistant"
    assert [d.get("content") for d in deltas[:-1]] == [
        "Hello ",
        "from ",
        "fake ",
        model.split("-")[0].title() + ". ",
        "How ",
        "can ",
        "I ",
        "help?",
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] in {40, 47}
    assert len({c["id"] for c in chunks}) == 1


@pytest.mark.parametrize("model", ["claude-opus", "gemini-2.5-pro"])
def test_deltas_reach_the_client_before_the_cli_finishes(proxy: RunningProxy, model: str, tmp_path: Path) -> None:
    """The fake sends its second delta only after we have the first; a buffering proxy makes it say 'late'."""
    gate = tmp_path / "gate"
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": f"SCENARIO=gated GATE={gate}"}]}
    received = []
    with proxy.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if content:
                    received.append(content)
                    gate.touch()
    assert "".join(received) == "first second third"


def test_codex_streams_one_chunk_per_agent_message(proxy: RunningProxy) -> None:
    events = sse_events(stream(proxy, "gpt-5.5", [{"role": "user", "content": "SCENARIO=stream"}]).text)
    contents = [e["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert contents[:3] == ["First message.", "\n\nSecond", " message."]
    assert events[-2]["usage"]["prompt_tokens"] == 24763


@pytest.mark.parametrize("model", MODELS)
def test_system_prompt_and_transcript_reach_the_cli(proxy: RunningProxy, model: str) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And times 3? SCENARIO=echo"},
    ]
    with proxy.client() as client:
        response = client.post("/v1/chat/completions", json={"model": model, "messages": messages})
    assert response.status_code == 200, response.text
    seen = json.loads(response.json()["choices"][0]["message"]["content"])
    assert seen["system"] == "You are terse.\n\nAnswer in French."
    prompt = seen["prompt"]
    assert "<user>\nWhat is 2+2?\n</user>" in prompt and "<assistant>\n4\n</assistant>" in prompt
    assert prompt.rstrip().endswith("And times 3? SCENARIO=echo")
    # The prompt goes on stdin only; every CLI's system prompt goes in a file.
    assert not any("2+2" in arg or "times 3" in arg for arg in seen["argv"])
    assert not any("terse" in arg or "French" in arg for arg in seen["argv"])
    assert seen["model"] == {"claude-opus": "opus", "gemini-2.5-pro": "gemini-2.5-pro", "gpt-5.5": "gpt-5.5"}[model]


@pytest.mark.parametrize("model", MODELS)
def test_large_system_prompt_reaches_the_cli_through_a_file(proxy: RunningProxy, model: str) -> None:
    """200 KB: more than one argv string may hold (128 KiB), so it only works off the command line."""
    system = "You are terse. " + "Remember this. " * 14_000
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "SCENARIO=echo"}]
    with proxy.client() as client:
        response = client.post("/v1/chat/completions", json={"model": model, "messages": messages})
    assert response.status_code == 200, response.text[:2000]
    seen = json.loads(response.json()["choices"][0]["message"]["content"])
    assert seen["system"] == system
    assert sum(len(arg) for arg in seen["argv"]) < 10_000
    if model == "gpt-5.5":
        assert seen["system_file_mode"] == "0o600" and seen["developer_instructions"] is None


def test_claude_runs_isolated_and_without_the_proxy_key(proxy: RunningProxy) -> None:
    first = json.loads(proxy.chat("claude-opus", "SCENARIO=echo").json()["choices"][0]["message"]["content"])
    second = json.loads(proxy.chat("claude-opus", "SCENARIO=echo").json()["choices"][0]["message"]["content"])
    assert first["cwd_entries"] == [] and first["cwd"] != second["cwd"]
    assert not Path(first["cwd"]).exists()  # the temporary directory is removed after the request
    assert first["config_dir"].endswith("/claude/worker-0")
    assert (Path(first["config_dir"]) / ".credentials.json").is_symlink()
    assert first["env_has_proxy_key"] is False
    assert first["system"] is None


def test_gemini_and_codex_run_with_tools_off(proxy: RunningProxy) -> None:
    gemini = json.loads(proxy.chat("gemini-2.5-pro", "SCENARIO=echo").json()["choices"][0]["message"]["content"])
    assert gemini["settings"]["tools"] == {"core": ["none"]}
    codex = json.loads(proxy.chat("gpt-5.5", "SCENARIO=echo").json()["choices"][0]["message"]["content"])
    assert codex["shell_tool"] is False and codex["sandbox"] == "read-only"


@pytest.mark.parametrize("model", MODELS)
def test_unknown_and_malformed_lines_are_ignored(proxy: RunningProxy, model: str) -> None:
    response = proxy.chat(model, "SCENARIO=malformed")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Still fine."


# --- errors --------------------------------------------------------------------------------------------------


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return body["error"]


@pytest.mark.parametrize(
    ("model", "scenario", "status", "code"),
    [
        ("claude-opus", "auth", 401, "cli_not_authenticated"),
        ("claude-opus", "expired", 401, "cli_not_authenticated"),
        ("claude-opus", "limit", 429, "rate_limit_exceeded"),
        ("claude-opus", "capacity", 503, "cli_overloaded"),
        ("claude-opus", "badmodel", 404, "model_not_found"),
        ("claude-opus", "toolong", 400, "context_length_exceeded"),
        ("gemini-2.5-pro", "limit", 429, "rate_limit_exceeded"),
        ("gemini-2.5-pro", "capacity", 503, "cli_overloaded"),
        ("gemini-2.5-pro", "badmodel", 404, "model_not_found"),
        ("gpt-5.5", "capacity", 503, "cli_overloaded"),
        ("gpt-5.5", "limit", 429, "rate_limit_exceeded"),
        ("gpt-5.5", "failed_exit0", 502, "cli_failed"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_cli_errors_map_to_openai_errors(
    proxy: RunningProxy, model: str, scenario: str, status: int, code: str, streaming: bool
) -> None:
    response = proxy.chat(model, f"SCENARIO={scenario}", stream=streaming)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    if status == 429:
        retry_after = int(response.headers["retry-after"])
        expected = {"claude-opus": range(3500, 3601), "gemini-2.5-pro": range(24, 25), "gpt-5.5": range(1, 86401)}
        assert retry_after in expected[model]
    if status == 401:
        assert "claude setup-token" in error["message"] and "/login" in error["message"]


def test_gemini_exit_codes(proxy: RunningProxy) -> None:
    assert proxy.chat("gemini-2.5-pro", "SCENARIO=exit EXIT=42").status_code == 400
    response = proxy.chat("gemini-2.5-pro", "SCENARIO=exit EXIT=52")
    assert response.status_code == 502 and "exited with code 52" in error_of(response)["message"]


def test_gemini_without_credentials_is_401_and_not_ready(proxy_factory: Any) -> None:
    with proxy_factory(clis={"gemini": {"env": {}}}, extra_env={"GEMINI_API_KEY": ""}) as proxy:
        report = proxy.wait_checked()
        assert report["clis"]["gemini"]["state"] == "not_authenticated"
        assert "GEMINI_API_KEY" in report["clis"]["gemini"]["fix"]
        response = proxy.chat("gemini-2.5-pro", "hello")
        assert response.status_code == 401
        assert "GEMINI_API_KEY" in error_of(response)["message"]


def test_not_logged_in_shows_in_readyz_and_models(proxy_factory: Any, tmp_path: Path) -> None:
    empty = tmp_path / "no-creds"
    empty.mkdir()
    with proxy_factory(
        clis={"claude": {"credentials_from": str(empty)}, "codex": {"credentials_from": str(empty)}}
    ) as proxy:
        report = proxy.wait_checked()
        assert report["clis"]["claude"]["state"] == "not_authenticated"
        assert "setup-token" in report["clis"]["claude"]["fix"]
        assert report["clis"]["codex"]["state"] == "not_authenticated"
        assert "codex login" in report["clis"]["codex"]["fix"]
        assert report["models"] == ["gemini-2.5-pro"]
        with proxy.client() as client:
            listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert listed == ["gemini-2.5-pro"]
        # Each request asks the CLI again (no sticky state): still a 401, with the fix.
        assert proxy.chat("claude-opus", "hi").status_code == 401
        codex = proxy.chat("gpt-5.5", "hi")
        assert codex.status_code == 401 and "codex login" in error_of(codex)["message"]


def test_auth_failure_then_success_updates_readiness(proxy: RunningProxy) -> None:
    proxy.wait_checked()
    assert proxy.chat("claude-opus", "SCENARIO=auth").status_code == 401
    assert proxy.readyz()["clis"]["claude"]["state"] == "not_authenticated"
    assert proxy.chat("claude-opus", "hello").status_code == 200  # not sticky
    assert proxy.readyz()["clis"]["claude"]["state"] == "ready"


def test_missing_cli_is_model_not_found(proxy_factory: Any) -> None:
    with proxy_factory(clis={"codex": {"executable": "codex-not-installed"}}) as proxy:
        report = proxy.wait_checked()
        assert report["clis"]["codex"]["state"] == "not_installed"
        assert "npm install" in report["clis"]["codex"]["fix"]
        response = proxy.chat("gpt-5.5", "hi")
        assert response.status_code == 404 and error_of(response)["code"] == "model_not_found"
        unknown = proxy.chat("no-such-model", "hi")
        assert unknown.status_code == 404 and error_of(unknown)["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"stop": "END"}, "stop"),
        ({"stop": ["\n\n", "END"]}, "stop"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "response_format"),
    ],
)
def test_parameters_a_cli_cannot_honour_get_400(proxy: RunningProxy, extra: dict[str, Any], param: str) -> None:
    response = proxy.chat("claude-opus", "hi", **extra)
    assert response.status_code == 400
    assert error_of(response)["param"] == param
    assert proxy.spawned == []  # refused before any CLI ran


@pytest.mark.parametrize("stream", [False, True])
def test_harmless_parameters_are_accepted(proxy: RunningProxy, stream: bool) -> None:
    """What clients send by default, and unset values of the refused ones, do not stop a request."""
    extra: dict[str, Any] = {
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 256,
        "max_completion_tokens": 256,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "seed": 7,
        "user": "someone",
        "stop": None,
        "logprobs": False,
        "logit_bias": {},
        "tools": [],
        "tool_choice": "none",
        "parallel_tool_calls": False,
        "response_format": {"type": "text"},
        "n": 1,
        "stream": stream,
    }
    if stream:
        extra["stream_options"] = {"include_usage": True}
    for model in MODELS:
        response = proxy.chat(model, "hi", **extra)
        assert response.status_code == 200, (model, response.text)


def test_bad_messages_get_400(proxy: RunningProxy) -> None:
    with proxy.client() as client:
        for messages in (
            [{"role": "tool", "content": "x", "tool_call_id": "1"}],
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            [{"role": "assistant", "content": "last is not user"}],
            [],
        ):
            response = client.post("/v1/chat/completions", json={"model": "claude-opus", "messages": messages})
            assert response.status_code == 400, messages
        assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 400
    assert proxy.spawned == []


def test_bearer_key_on_every_route_but_health(proxy: RunningProxy) -> None:
    body = {"model": "claude-opus", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{proxy.base_url}/v1/chat/completions", json=body).status_code == 401
    assert httpx.get(f"{proxy.base_url}/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{proxy.base_url}{path}").status_code in {200, 503}
    assert proxy.spawned == []


def test_the_proxy_refuses_to_start_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_proxy.app import create_app

    monkeypatch.delenv("CLI_PROXY_API_KEY", raising=False)
    monkeypatch.delenv("MAXIMUS_ALLOW_NO_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CLI_PROXY_API_KEY"):
        create_app()


# --- time, crashes, disconnects ------------------------------------------------------------------------------


def test_stall_before_any_answer_is_504_and_the_process_group_is_killed(proxy_factory: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    with proxy_factory(clis={"claude": {"first_byte_timeout_s": 1}}) as proxy:
        response = proxy.chat("claude-opus", f"SCENARIO=stall PIDFILE={pidfile}")
        assert response.status_code == 504
        assert "no answer within 1s" in error_of(response)["message"]
        pids = read_pidfile(pidfile)
        assert len(pids) == 2 and wait_gone(pids) == []


def test_stall_mid_stream_hits_the_idle_timeout(proxy_factory: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    with proxy_factory(clis={"claude": {"idle_timeout_s": 1}}) as proxy:
        response = stream(proxy, "claude-opus", [{"role": "user", "content": f"SCENARIO=stall_mid PIDFILE={pidfile}"}])
        assert response.status_code == 200  # the first delta was sent: the error comes in the stream
        events = sse_events(response.text)
        assert content_of(events) == "Half "
        assert events[-1]["error"]["code"] == "cli_timeout"
        assert "no output within 1s" in events[-1]["error"]["message"]
        assert wait_gone(read_pidfile(pidfile)) == []


@pytest.mark.parametrize("streaming", [False, True])
def test_total_timeout_stops_a_cli_that_keeps_talking(proxy_factory: Any, tmp_path: Path, streaming: bool) -> None:
    """A delta every 0.3 s for 5 s never trips the first-byte or idle limits (30 s): only the total limit (1 s)."""
    pidfile = tmp_path / "pids"
    # stream_commit_s below the total limit: the stream is committed before the timeout, whatever the CLI's start-up.
    limits = {"first_byte_timeout_s": 30, "idle_timeout_s": 30, "total_timeout_s": 1, "stream_commit_s": 0.2}
    content = f"SCENARIO=drip DELAY=0.3 SLEEP=5 PIDFILE={pidfile}"
    with proxy_factory(clis={"claude": limits}) as proxy:
        if streaming:
            response = stream(proxy, "claude-opus", [{"role": "user", "content": content}])
            assert response.status_code == 200  # committed: the 504 arrives as the stream's last event
            events = sse_events(response.text)
            assert "[DONE]" not in events
            assert set(content_of(events).split()) <= {"drop"}
            assert set(events[-1]) == {"error"}
            error = events[-1]["error"]
        else:
            response = proxy.chat("claude-opus", content)
            assert response.status_code == 504, response.text
            error = error_of(response)
        assert error["code"] == "cli_timeout" and error["type"] == "timeout"
        assert "no complete answer within 1s" in error["message"]
        pids = read_pidfile(pidfile)
        assert len(pids) == 2 and wait_gone(pids) == [], "the CLI (or its child) outlived the total timeout"
        metrics = httpx.get(f"{proxy.base_url}/metrics").text
    assert 'cli_proxy_requests_total{cli="claude",model="claude-opus",outcome="timeout"} 1.0' in metrics
    assert 'cli_proxy_killed_processes_total{cli="claude",reason="timeout"} 1.0' in metrics


def test_process_ignoring_sigterm_is_sigkilled(proxy_factory: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    with proxy_factory(clis={"claude": {"first_byte_timeout_s": 1, "kill_grace_s": 0.3}}) as proxy:
        response = proxy.chat("claude-opus", f"SCENARIO=stubborn PIDFILE={pidfile}")
        assert response.status_code == 504
        assert wait_gone(read_pidfile(pidfile)) == []


def test_codex_offline_fails_fast_instead_of_waiting_for_network(proxy: RunningProxy, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    response = proxy.chat("gpt-5.5", f"SCENARIO=offline PIDFILE={pidfile}")
    assert response.status_code == 503
    assert "waiting for network" in error_of(response)["message"]
    assert wait_gone(read_pidfile(pidfile)) == []


def test_crash_mid_stream_ends_with_an_error_event_and_redacted_stderr(proxy_factory: Any) -> None:
    with proxy_factory() as proxy:
        response = stream(proxy, "claude-opus", [{"role": "user", "content": "SCENARIO=crash"}])
        events = sse_events(response.text)
        assert content_of(events) == "Starting "
        assert "[DONE]" not in events
        error = events[-1]["error"]
        assert error["code"] == "cli_failed" and "exited with code 3" in error["message"]
        assert "TypeError: cannot read properties" in error["message"]
        assert "Zx9Q" not in error["message"] and "[REDACTED]" in error["message"]


def test_crash_non_streaming_is_502_with_redacted_stderr(proxy: RunningProxy) -> None:
    response = proxy.chat("claude-opus", "SCENARIO=crash")
    assert response.status_code == 502
    message = error_of(response)["message"]
    assert "TypeError" in message and "Zx9Q" not in message


def _open_then_drop(proxy: RunningProxy, body: dict[str, Any], pidfile: Path) -> list[int]:
    """Send a request on a raw socket, wait until the CLI runs, then close the connection."""
    payload = json.dumps(body).encode()
    host, port = proxy.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    pids = read_pidfile(pidfile)
    sock.close()
    return pids


@pytest.mark.parametrize("streaming", [False, True])
def test_client_disconnect_kills_the_process_group(proxy: RunningProxy, tmp_path: Path, streaming: bool) -> None:
    pidfile = tmp_path / "pids"
    body = {
        "model": "claude-opus",
        "stream": streaming,
        "messages": [{"role": "user", "content": f"SCENARIO=stall PIDFILE={pidfile}"}],
    }
    pids = _open_then_drop(proxy, body, pidfile)
    assert len(pids) == 2
    assert wait_gone(pids) == [], "the CLI (or its child) outlived the client's disconnect"
    with proxy.client() as client:
        metrics = client.get("/metrics").text
    assert 'cli_proxy_killed_processes_total{cli="claude",reason="client_disconnected"} 1.0' in metrics


def test_keepalive_comments_while_the_cli_starts(proxy_factory: Any) -> None:
    with proxy_factory(clis={"claude": {"stream_commit_s": 0.1, "keepalive_interval_s": 0.1}}) as proxy:
        response = stream(proxy, "claude-opus", [{"role": "user", "content": "SCENARIO=slow_start SLEEP=1.5"}])
    assert response.status_code == 200
    assert ": keep-alive" in response.text.split("data: ")[0]
    assert content_of(sse_events(response.text)) == "Finally awake."


def test_concurrency_limit_queues_then_503(proxy_factory: Any, tmp_path: Path) -> None:
    with proxy_factory(clis={"claude": {"concurrency": 1, "queue_timeout_s": 0.5}}) as proxy:
        pidfile = tmp_path / "pids"
        results: dict[str, httpx.Response] = {}
        slow = threading.Thread(
            target=lambda: results.update(slow=proxy.chat("claude-opus", f"SCENARIO=wait SLEEP=3 PIDFILE={pidfile}"))
        )
        slow.start()
        read_pidfile(pidfile)  # the only slot is taken
        busy = proxy.chat("claude-opus", "hi")
        slow.join()
        assert busy.status_code == 503 and error_of(busy)["code"] == "cli_busy"
        assert busy.headers["retry-after"] == "1"
        assert results["slow"].status_code == 200
        assert proxy.chat("claude-opus", "hi").status_code == 200  # the slot was given back


def wait_until(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"never happened: {what}")
        time.sleep(0.02)


def metric_value(proxy: RunningProxy, sample: str) -> float | None:
    for line in httpx.get(f"{proxy.base_url}/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None


def test_queued_request_is_served_when_the_slot_frees(proxy_factory: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the first CLI finishes only once the test has seen the second one queued
    with proxy_factory(clis={"claude": {"concurrency": 1, "queue_timeout_s": 10}}) as proxy:
        alive_at_spawn: list[list[int]] = []
        record = proxy.app.state.proxy.on_spawn

        def on_spawn(cli: str, pid: int) -> None:
            alive_at_spawn.append([p for _, p in proxy.spawned if pid_alive(p)])
            record(cli, pid)

        proxy.app.state.proxy.on_spawn = on_spawn
        results: dict[str, httpx.Response] = {}

        def ask(name: str, content: str) -> None:
            results[name] = proxy.chat("claude-opus", content)

        first = threading.Thread(target=ask, args=("first", f"SCENARIO=gated GATE={gate}"))
        first.start()
        wait_until(lambda: len(proxy.spawned) == 1, "the first CLI took the only slot")
        second = threading.Thread(target=ask, args=("second", "SCENARIO=echo queued-second"))
        second.start()
        waiting = 'cli_proxy_waiting_requests{cli="claude"}'
        wait_until(lambda: metric_value(proxy, waiting) == 1.0, "the second request waits in the queue")
        assert len(proxy.spawned) == 1  # queued, not started beside the first
        gate.touch()
        first.join()
        second.join()
        assert results["first"].status_code == 200, results["first"].text
        assert results["first"].json()["choices"][0]["message"]["content"] == "first second third"
        assert results["second"].status_code == 200, results["second"].text
        seen = json.loads(results["second"].json()["choices"][0]["message"]["content"])
        assert seen["prompt"] == "SCENARIO=echo queued-second"
        assert seen["config_dir"].endswith("/claude/worker-0")  # the slot the first request gave back
        assert [cli for cli, _ in proxy.spawned] == ["claude", "claude"]
        assert len({pid for _, pid in proxy.spawned}) == 2
        assert alive_at_spawn == [[], []]  # the second CLI started only after the first was gone
        assert metric_value(proxy, waiting) == 0.0
        assert metric_value(proxy, 'cli_proxy_queue_wait_seconds_count{cli="claude"}') == 2.0


def test_parallel_claude_workers_get_separate_config_dirs(proxy_factory: Any, tmp_path: Path) -> None:
    with proxy_factory(clis={"claude": {"concurrency": 2}}) as proxy:
        answers: list[httpx.Response] = []
        threads = [
            threading.Thread(
                target=lambda i=i: answers.append(proxy.chat("claude-opus", f"SCENARIO=echo SLEEP=0 n={i}"))
            )
            for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        dirs = {json.loads(a.json()["choices"][0]["message"]["content"])["config_dir"] for a in answers}
        assert dirs <= {str(tmp_path / "state" / "claude" / f"worker-{i}") for i in range(2)}


def test_metrics_count_requests_and_tokens(proxy: RunningProxy) -> None:
    assert proxy.chat("claude-opus", "hi").status_code == 200
    assert proxy.chat("claude-opus", "SCENARIO=capacity").status_code == 503
    text = httpx.get(f"{proxy.base_url}/metrics").text
    assert 'cli_proxy_requests_total{cli="claude",model="claude-opus",outcome="ok"} 1.0' in text
    assert 'cli_proxy_requests_total{cli="claude",model="claude-opus",outcome="overloaded"} 1.0' in text
    assert 'cli_proxy_tokens_total{cli="claude",kind="completion"} 40.0' in text
    assert 'cli_proxy_cost_usd_total{cli="claude"} 0.003' in text


def test_readiness_is_rechecked_periodically(proxy_factory: Any, tmp_path: Path) -> None:
    with proxy_factory(recheck_interval_s=0.2) as proxy:
        assert proxy.wait_checked()["clis"]["claude"]["state"] == "ready"
        (tmp_path / "creds" / "claude" / ".credentials.json").unlink()  # the host logged out
        deadline = time.monotonic() + 20
        while proxy.readyz()["clis"]["claude"]["state"] != "not_authenticated":
            assert time.monotonic() < deadline, "the periodic re-check never saw the logout"
            time.sleep(0.05)
        assert "claude-opus" not in proxy.readyz()["models"]


@pytest.mark.parametrize("log_content", [False, True])
def test_prompts_and_answers_are_logged_only_when_turned_on(
    proxy_factory: Any, caplog: pytest.LogCaptureFixture, log_content: bool
) -> None:
    env = {"CLI_PROXY_LOG_CONTENT": "1"} if log_content else {}
    with caplog.at_level(logging.INFO, logger="cli_proxy"), proxy_factory(extra_env=env) as proxy:
        assert proxy.chat("claude-opus", "tell me about zebra-secret-7").status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "outcome=ok" in logged  # the request itself is logged either way
    assert ("zebra-secret-7" in logged) == log_content
    assert ("Hello from fake Claude" in logged) == log_content


# --- what reaches the CLIs -----------------------------------------------------------------------------------

# Stack secrets and cloud keys that must never reach a CLI (built from parts: fake values).
FORBIDDEN_ENV = {
    "MAXIMUS_MASTER_KEY": "sk-" + "master-" + "0123456789",
    "TRACKER_API_KEY": "trk-" + "fake-" + "0123456789",
    "OPENAI_API_KEY": "sk-" + "proj-" + "A1b2" * 6,
    "ANTHROPIC_API_KEY": "sk-" + "ant-" + "api03-" + "Z9y8" * 6,
    "AWS_SECRET_ACCESS_KEY": "aws" + "/Fake" * 6,
}
ALLOWED_ENV = {"LC_ALL": "C.UTF-8", "TZ": "UTC", "https_proxy": "http://proxy.invalid:3128"}
PER_CLI_ENV = {
    "claude-opus": "CLAUDE_CODE_OAUTH_TOKEN",
    "gemini-2.5-pro": "GOOGLE_CLOUD_PROJECT",
    "gpt-5.5": "CODEX_API_KEY",
}


def env_seen(proxy: RunningProxy, model: str, dump: Path) -> dict[str, str]:
    response = proxy.chat(model, f"hi ENVDUMP={dump}")
    assert response.status_code == 200, response.text
    return json.loads(dump.read_text())


def test_cli_children_get_only_the_allowed_environment(proxy_factory: Any, tmp_path: Path) -> None:
    per_cli = {name: "fake-" + "value-" + str(i) for i, name in enumerate(PER_CLI_ENV.values())}
    with proxy_factory(extra_env={**FORBIDDEN_ENV, **ALLOWED_ENV, **per_cli}) as proxy:
        for model in MODELS:
            env = env_seen(proxy, model, tmp_path / f"{model}.json")
            leaked = sorted(set(FORBIDDEN_ENV) & set(env))
            assert leaked == [], f"{model} saw {leaked}"
            assert not any(name.startswith("CLI_PROXY_") for name in env)
            assert {k: env.get(k) for k in ALLOWED_ENV} == ALLOWED_ENV
            assert env["PATH"] and env["HOME"]
            own = PER_CLI_ENV[model]
            assert env[own] == per_cli[own]  # each CLI's own credentials reach it ...
            others = set(PER_CLI_ENV.values()) - {own}
            assert not others & set(env), f"{model} saw another CLI's variables"  # ... and only its own


def test_anthropic_api_key_reaches_claude_only_when_the_operator_lists_it(proxy_factory: Any, tmp_path: Path) -> None:
    with proxy_factory(extra_env={**FORBIDDEN_ENV, "CLI_PROXY_CLAUDE_ENV": "ANTHROPIC_API_KEY"}) as proxy:
        claude = env_seen(proxy, "claude-opus", tmp_path / "claude.json")
        codex = env_seen(proxy, "gpt-5.5", tmp_path / "codex.json")
    assert claude["ANTHROPIC_API_KEY"] == FORBIDDEN_ENV["ANTHROPIC_API_KEY"]
    assert "MAXIMUS_MASTER_KEY" not in claude and "CLI_PROXY_CLAUDE_ENV" not in claude
    assert "ANTHROPIC_API_KEY" not in codex


def raw_chat(proxy: RunningProxy, body: str) -> httpx.Response:
    """A body with JSON escapes httpx would refuse to encode (a lone surrogate)."""
    with proxy.client() as client:
        return client.post("/v1/chat/completions", content=body.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ('[{"role": "user", "content": "bad \\ud800 text"}]', "messages.0.content"),
        ('[{"role": "system", "content": "\\udfff"}, {"role": "user", "content": "hi"}]', "messages.0.content"),
        (
            '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"},'
            ' {"role": "user", "content": [{"type": "text", "text": "a\\ud83d"}]}]',
            "messages.2.content.0.text",
        ),
        ('[{"role": "user\\ud800", "content": "hi"}]', "messages.0.role"),
    ],
)
@pytest.mark.parametrize("model", MODELS)
def test_lone_surrogates_get_400_without_a_traceback(
    proxy: RunningProxy, caplog: pytest.LogCaptureFixture, model: str, messages: str, param: str
) -> None:
    with caplog.at_level(logging.INFO):
        response = raw_chat(proxy, f'{{"model": "{model}", "stream": false, "messages": {messages}}}')
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid_request" and error["param"] == param
    assert proxy.spawned == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_lone_surrogate_in_the_model_gets_400(proxy: RunningProxy) -> None:
    response = raw_chat(proxy, '{"model": "claude\\ud800", "messages": [{"role": "user", "content": "hi"}]}')
    assert response.status_code == 400 and error_of(response)["param"] == "model"
