"""The three modes `maximus status` and `maximus up` report: Hybrid, Pure Sovereign, No tier can answer.

Every address points at a closed port or at a small in-process double (a gateway that is alive, an Ollama with
the given models), never at the stack's default ports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maximus import lifecycle, native
from maximus.cli import app
from maximus.stack import services
from maximus.tiers import ABSENT, DEGRADED, HYBRID, NO_TIER, PURE_SOVEREIGN, UP, TierStatus, first_fix, mode
from tests.support.processes import free_port
from tests.support.stack import closed_port_url

runner = CliRunner()
CLOUD_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_CLOUD_API_KEY")


def test_mode_of_tier_states() -> None:
    local_up, local_degraded = TierStatus("local", UP, ""), TierStatus("local", DEGRADED, "")
    local_absent, power_absent = TierStatus("local", ABSENT, "", "start Ollama"), TierStatus("power", ABSENT, "")
    assert mode([local_up, power_absent]) == PURE_SOVEREIGN
    assert mode([local_degraded, power_absent]) == PURE_SOVEREIGN, "one pulled model still answers"
    assert mode([local_absent, TierStatus("cloud", UP, "")]) == HYBRID
    assert mode([local_up, TierStatus("creative", UP, "")]) == HYBRID
    assert mode([local_up, TierStatus("vision", UP, "")]) == PURE_SOVEREIGN, "vision is sovereign"
    assert mode([local_absent, power_absent, TierStatus("cloud", ABSENT, "")]) == NO_TIER
    assert mode([local_absent, TierStatus("vision", UP, "")]) == NO_TIER, "vision does not answer a chat"


def test_the_local_tier_is_fixed_first() -> None:
    states = [TierStatus("power", ABSENT, "", "claude setup-token"), TierStatus("local", ABSENT, "", "start Ollama")]
    assert first_fix(states) == "fix the local tier first: start Ollama"
    assert first_fix(states[:1]) == "fix the power tier first: claude setup-token"


class _Double(BaseHTTPRequestHandler):
    """The gateway's liveness route and Ollama's model list, as the status probes read them."""

    models: tuple[str, ...] = ()
    ollama = True

    def do_GET(self) -> None:
        if self.path == "/health/liveliness":
            self._reply({"status": "ok"})
        elif self.path == "/api/tags" and self.ollama:
            self._reply({"models": [{"name": f"{m}:latest"} for m in self.models]})
        else:
            self.send_error(404)

    def _reply(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stack_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point every service at a closed port; returns a function that starts the doubles a case needs."""
    for spec in services().values():
        monkeypatch.setenv(spec.port_env, str(free_port()))
        if spec.url_env:
            monkeypatch.delenv(spec.url_env, raising=False)
    for name in (*CLOUD_KEYS, "LITELLM_URL", "TRACKER_URL", "OLLAMA_CHAT_MODEL", "OLLAMA_REASONING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAXIMUS_ENV_FILE", str(tmp_path / ".env"))
    monkeypatch.setenv("MAXIMUS_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("CLI_PROXY_API_BASE", closed_port_url("/v1"))
    monkeypatch.setenv("VISION_API_BASE", closed_port_url("/v1"))
    monkeypatch.setenv("COLUMNS", "400")  # one status line a line, whatever the terminal
    servers: list[Iterator[int]] = []

    def start(ollama_models: tuple[str, ...] | None, cloud: bool = False) -> str:
        handler = type("Double", (_Double,), {"models": ollama_models or (), "ollama": ollama_models is not None})
        servers.append(_serve(handler))
        port = next(servers[-1])
        monkeypatch.setenv("LITELLM_PORT", str(port))
        ollama = f"http://127.0.0.1:{port}" if ollama_models is not None else closed_port_url()
        monkeypatch.setenv("OLLAMA_API_BASE", ollama)
        if cloud:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "test" * 6)
        return ollama

    yield start
    for server in servers:
        next(server, None)


CASES = {
    "no-ollama": ((None, False), NO_TIER, 1),
    "both-models": ((("gemma3", "llama3.1"), False), PURE_SOVEREIGN, 0),
    "one-model": ((("llama3.1",), False), PURE_SOVEREIGN, 0),
    "ollama-without-models": (((), False), NO_TIER, 1),
    "cloud-only": ((None, True), HYBRID, 0),
}


@pytest.mark.parametrize(("doubles", "expected", "code"), CASES.values(), ids=CASES.keys())
def test_status_json_reports_the_mode_and_fails_when_no_tier_answers(stack_env, doubles, expected, code) -> None:
    stack_env(*doubles)
    result = runner.invoke(app, ["status", "--json"])
    report = json.loads(result.stdout)
    assert (report["gateway"], report["mode"], result.exit_code) == (True, expected, code)
    assert report["next_step"].startswith("fix the local tier first: ") == (expected == NO_TIER)


def test_status_without_ollama_names_the_address_and_the_fix(stack_env) -> None:
    ollama = stack_env(None)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert f"nothing answers at {ollama}" in result.stdout
    assert (
        "Mode: No tier can answer: fix the local tier first: start Ollama (https://ollama.com/download), then "
        "`ollama pull gemma3 && ollama pull llama3.1 && ollama pull embeddinggemma`; or set OLLAMA_API_BASE"
    ) in result.stdout


@pytest.fixture
def nothing_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """`maximus up` in native mode with every service already healthy: only the tiers decide the exit code."""
    monkeypatch.setattr(native, "running", lambda run_dir: False)
    monkeypatch.setattr(native, "start", lambda env, run_dir: native.Plan())
    monkeypatch.setattr(native, "wait_healthy", lambda names, env, run_dir: {})
    monkeypatch.setattr(native, "record", lambda run_dir: None)
    monkeypatch.setattr(native, "program_info", lambda run_dir: {})
    monkeypatch.setattr(lifecycle.tiers, "service_up", lambda name, env: True)


@pytest.mark.parametrize(("ollama_models", "code"), [(None, 1), (("gemma3", "llama3.1"), 0)], ids=["none", "local"])
def test_up_exits_non_zero_only_when_no_tier_can_answer(stack_env, nothing_to_start, ollama_models, code) -> None:
    stack_env(ollama_models)
    result = runner.invoke(app, ["up", "--mode", "native"])
    assert result.exit_code == code, result.stdout
    assert ("Mode: No tier can answer: fix the local tier first" in result.stdout) == (code == 1)
