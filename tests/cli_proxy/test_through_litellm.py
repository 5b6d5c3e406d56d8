"""Through the real LiteLLM proxy: max-genius answered by the CLI proxy (fake CLIs), and the fallback to the
local tier when the CLI proxy is down."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_proxy.conftest import API_KEY, make_config
from tests.support import stack
from tests.support.processes import free_port, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cli_proxy_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def litellm_to_cli_proxy(
    workdir: Path, ollama_double: stack.HttpDouble, redis_server: stack.RedisServer, cli_proxy_port: int
) -> Iterator[stack.LiteLLMProxy]:
    """LiteLLM with max-genius/max-opus pointed at the port where the tests run (or stop) the CLI proxy."""
    backends = {
        "OLLAMA_API_BASE": ollama_double.base_url,
        "REDIS_URL": redis_server.url,
        "CLI_PROXY_API_BASE": f"http://127.0.0.1:{cli_proxy_port}/v1",
        "CLI_PROXY_API_KEY": API_KEY,
    }
    with stack.litellm_proxy(workdir, backends) as proxy:
        yield proxy


@contextlib.contextmanager
def cli_proxy_process(tmp_path: Path, port: int, clis: dict[str, Any] | None = None) -> Iterator[None]:
    """`maximus serve cli-proxy` as a real process, with the fake CLIs."""
    env = {
        "CLI_PROXY_CONFIG": str(make_config(tmp_path, clis)),
        "CLI_PROXY_API_KEY": API_KEY,
        "MAXIMUS_ENV_FILE": str(tmp_path / "absent.env"),
        "MAXIMUS_RUN_DIR": str(tmp_path / "run"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [sys.executable, "-m", "maximus.cli", "serve", "cli-proxy", "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, env=env, log_path=tmp_path / "cli-proxy.log", health_url=f"http://127.0.0.1:{port}/healthz"):
        yield


def ask(proxy: stack.LiteLLMProxy, model: str, stream: bool = False, text: str = "Say hello") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    with httpx.Client(timeout=120) as client:
        response = client.post(f"{proxy.openai_base_url}/chat/completions", json=body, headers=proxy.headers())
        response.read()
        return response


def test_max_genius_is_answered_by_the_cli_proxy(
    litellm_to_cli_proxy: stack.LiteLLMProxy, cli_proxy_port: int, tmp_path: Path
) -> None:
    with cli_proxy_process(tmp_path, cli_proxy_port):
        response = ask(litellm_to_cli_proxy, "max-genius")
        assert response.status_code == 200, response.text
        assert response.headers.get("x-litellm-model-group") == "max-genius"
        body = response.json()
        assert body["choices"][0]["message"]["content"] == "Hello from fake Claude. How can I help?"
        assert body["usage"]["completion_tokens"] == 40

        streamed = ask(litellm_to_cli_proxy, "max-genius", stream=True)
        assert streamed.status_code == 200, streamed.text
        chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
        text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
        assert text == "Hello from fake Claude. How can I help?"
        assert any((c.get("usage") or {}).get("completion_tokens") == 40 for c in chunks)


def test_max_genius_falls_back_to_local_when_the_cli_proxy_is_down(
    litellm_to_cli_proxy: stack.LiteLLMProxy, ollama_double: stack.HttpDouble
) -> None:
    ollama_double.clear()
    response = ask(litellm_to_cli_proxy, "max-genius")  # nothing listens on the CLI proxy's port now
    assert response.status_code == 200, response.text
    assert response.headers.get("x-litellm-model-group") == "max-buddy"
    assert response.json()["choices"][0]["message"]["content"]
    assert any(r.get("path") == "/api/chat" for r in ollama_double.requests())


def test_a_used_up_account_hands_over_behind_litellm(
    litellm_to_cli_proxy: stack.LiteLLMProxy, cli_proxy_port: int, tmp_path: Path, ollama_double: stack.HttpDouble
) -> None:
    """Two Claude Code accounts, the first used up after 2 answers: every request through LiteLLM is answered by
    the power tier (no 429 reaches LiteLLM, so no fallback to the local tier), the second account taking over."""
    accounts = []
    for name, spec in (("work", {"answers": 2, "reset_in_s": 600}), ("home", {})):
        folder = tmp_path / f"login-{name}"
        folder.mkdir()
        (folder / ".credentials.json").write_text('{"fake": true}')
        (folder / "fake-account.json").write_text(json.dumps({"label": name, **spec}))
        accounts.append({"name": name, "config_dir": str(folder)})
    ollama_double.clear()
    with cli_proxy_process(tmp_path, cli_proxy_port, {"claude": {"accounts": accounts, "warm_pool": {"size": 0}}}):
        answers = []
        for i in range(5):
            response = ask(litellm_to_cli_proxy, "max-genius", stream=i % 2 == 1, text=f"question {i}")
            assert response.status_code == 200, response.text
            assert response.headers.get("x-litellm-model-group") == "max-genius"
            answers.append(response.text)
        metrics = httpx.get(f"http://127.0.0.1:{cli_proxy_port}/metrics", timeout=10).text
    # No 429 left the CLI proxy (a LiteLLM retry would hide one from the client, not from these counts).
    assert 'outcome="rate_limit"' not in metrics
    assert 'cli_proxy_account_rotations_total{cli="claude",reason="usage_limit"} 1.0' in metrics
    assert ["(work)" in a for a in answers] == [True, True, False, False, False]
    assert all("(home)" in a for a in answers[2:])
    assert not any(r.get("path") == "/api/chat" for r in ollama_double.requests()), "no fallback was needed"
