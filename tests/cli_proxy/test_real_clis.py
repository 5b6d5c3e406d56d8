"""The real CLIs from npm (cli-proxy/node_modules): versions, and each one's real not-logged-in path.

Install them with `npm ci --prefix cli-proxy` (or `npm install --prefix cli-proxy`); without them these tests skip.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_proxy.conftest import NODE_BIN, RunningProxy, make_config, serve, wait_gone

PACKAGES = NODE_BIN.parent
VERSIONS = {
    "claude": ("@anthropic-ai/claude-code", "{v} (Claude Code)"),
    "gemini": ("@google/gemini-cli", "{v}"),
    "codex": ("@openai/codex", "codex-cli {v}"),
}
CREDENTIAL_ENV = (
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_GCA",
    "CODEX_API_KEY",
    "OPENAI_API_KEY",
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all((NODE_BIN / name).exists() for name in VERSIONS),
        reason="the npm CLIs are not installed: run `npm ci --prefix cli-proxy`",
    ),
]


def installed_version(cli: str) -> str:
    package, shape = VERSIONS[cli]
    version = json.loads((PACKAGES / package / "package.json").read_text())["version"]
    return shape.format(v=version)


@pytest.fixture(scope="module")
def logged_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No credentials anywhere; HOME is a fresh directory so nothing of the user's is read or written."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name in CREDENTIAL_ENV:
            patch.delenv(name, raising=False)
        patch.setenv("HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def real_proxy(tmp_path_factory: pytest.TempPathFactory, logged_out: Path) -> Iterator[RunningProxy]:
    with serve(real_config(tmp_path_factory.mktemp("real"), logged_out)) as proxy:
        proxy.wait_checked(timeout=120)
        yield proxy


def real_config(tmp_path: Path, home: Path, **cli_extra: dict[str, Any]) -> Path:
    empty = home / "no-credentials"
    empty.mkdir(exist_ok=True)
    clis = {
        name: {
            "credentials_from": str(empty),
            "first_byte_timeout_s": 30,
            "total_timeout_s": 60,
            "kill_grace_s": 2,
            # A node CLI's start-up on a loaded 2-core machine can pass FAST's 5 s; the 401 must not depend on it.
            "stream_commit_s": 45,
            **cli_extra.get(name, {}),
        }
        for name in VERSIONS
    }
    clis["gemini"]["env"] = {}
    return make_config(tmp_path, clis, search_path=[str(NODE_BIN)], probe_timeout_s=60)


def test_versions_detected_and_not_logged_in_shown_in_readyz(real_proxy: RunningProxy) -> None:
    response = httpx.get(f"{real_proxy.base_url}/readyz", timeout=30)
    assert response.status_code == 503
    report = response.json()
    for cli in VERSIONS:
        status = report["clis"][cli]
        assert status["installed"] and status["path"] == str(NODE_BIN / cli)
        assert status["version"] == installed_version(cli), status
        assert status["state"] == "not_authenticated", status
        assert status["authenticated"] is False and status["fix"]
    assert report["ready"] is False and report["models"] == []


@pytest.mark.parametrize("model", ["claude-opus", "gemini-2.5-pro", "gpt-5.5"])
@pytest.mark.parametrize("streaming", [False, True])
def test_real_not_logged_in_is_401(real_proxy: RunningProxy, model: str, streaming: bool) -> None:
    real_proxy.spawned.clear()
    response = real_proxy.chat(model, "Say hello", stream=streaming)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "cli_not_authenticated"
    hint = {"claude-opus": "setup-token", "gemini-2.5-pro": "GEMINI_API_KEY", "gpt-5.5": "codex login"}[model]
    assert hint in error["message"]
    if model != "gpt-5.5":  # codex is caught by `codex login status` before `codex exec` would wait forever
        assert real_proxy.spawned
    assert wait_gone([pid for _, pid in real_proxy.spawned]) == []
    cli = {"claude-opus": "claude", "gemini-2.5-pro": "gemini", "gpt-5.5": "codex"}[model]
    assert real_proxy.readyz()["clis"][cli]["state"] == "not_authenticated"


def test_codex_with_a_key_but_no_network_does_not_hang(
    tmp_path: Path, logged_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, `codex exec` retries and then waits for the network forever: the proxy must answer anyway."""
    monkeypatch.setenv("CODEX_API_KEY", "sk-" + "test" * 8)
    config = real_config(tmp_path, logged_out, codex={"first_byte_timeout_s": 25})
    with serve(config) as proxy:
        response = proxy.chat("gpt-5.5", "Say hello")
        # Here (no network): 503 "waiting for network" or 504; with network the fake key gives 401.
        assert response.status_code in {401, 503, 504}, response.text
        assert proxy.spawned and wait_gone([pid for _, pid in proxy.spawned]) == []
        assert "sk-testtest" not in response.text


def test_real_codex_reads_the_system_prompt_file_the_adapter_names(tmp_path: Path, logged_out: Path) -> None:
    """The real Codex takes `-c model_instructions_file=...` as written by the adapter: with the file removed it
    stops at once naming our path (with the file there it would go on to the network, unreachable here)."""
    from cli_proxy.adapters.base import Prompt, RunPaths
    from cli_proxy.adapters.codex import CodexAdapter
    from cli_proxy.config import load_settings

    adapter = CodexAdapter(
        load_settings(env={"CLI_PROXY_CONFIG": str(real_config(tmp_path, logged_out))}).clis["codex"]
    )
    paths = RunPaths(cwd=tmp_path / "cwd", scratch=tmp_path / "scratch dir", home=tmp_path / "codex-home")
    for folder in (paths.cwd, paths.scratch):
        folder.mkdir()
    adapter.prepare_home(paths.home)
    invocation = adapter.prepare(None, Prompt("You are terse.", "Say hello"), paths)
    system_file = paths.scratch / "system.md"
    assert system_file.read_text() == "You are terse." and (system_file.stat().st_mode & 0o777) == 0o600
    assert not any("terse" in arg for arg in invocation.args)
    system_file.unlink()
    done = subprocess.run(
        [str(NODE_BIN / "codex"), *invocation.args],
        input=b"Say hello",
        env=adapter.child_env(invocation.env),
        cwd=paths.cwd,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"failed to read model instructions file {system_file}" in done.stderr.decode()


def test_real_claude_warm_worker_waits_past_the_plain_stdin_window(tmp_path: Path, logged_out: Path) -> None:
    """Claude Code gives plain-text stdin up after 3 s; the stream-json input the proxy uses waits: a worker
    that waited 5 s still reads its prompt (a hit, not a dead process replaced by a cold start)."""
    warm = {"claude": {"warm_pool": {"size": 1, "idle_lifetime_s": 120}}}
    with serve(real_config(tmp_path, logged_out, **warm)) as proxy:
        assert proxy.chat("claude-opus", "Say hello").status_code == 401  # a miss: the pool fills behind it
        deadline = time.monotonic() + 30
        while proxy.app.state.proxy.warm.waiting("claude") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(5)
        response = proxy.chat("claude-opus", "Say hello")
        assert response.status_code == 401 and "setup-token" in response.json()["error"]["message"]
        metrics = httpx.get(f"{proxy.base_url}/metrics", timeout=10).text
        assert 'cli_proxy_warm_pool_total{cli="claude",outcome="hit"} 1.0' in metrics
    assert wait_gone([pid for _, pid in proxy.spawned]) == []


def test_two_logged_out_claude_accounts_are_each_marked_with_their_fix(tmp_path: Path, logged_out: Path) -> None:
    """The real `claude auth status` and not-logged-in run, once per account folder: each account is marked,
    and the request's 401 names every account's own fix."""
    folders = {name: tmp_path / f"login-{name}" for name in ("work", "home")}
    for folder in folders.values():
        folder.mkdir()
    accounts = [{"name": name, "config_dir": str(folder)} for name, folder in folders.items()]
    config = real_config(tmp_path, logged_out, claude={"accounts": accounts, "warm_pool": {"size": 0}})
    with serve(config) as proxy:
        report = proxy.wait_checked(timeout=120)
        rows = {row["name"]: row for row in report["accounts"]["claude"]}
        for name, folder in folders.items():
            assert rows[name]["state"] == "login_expired", rows
            assert f"CLAUDE_CONFIG_DIR={folder} claude" in rows[name]["fix"]
        response = proxy.chat("claude-opus", "Say hello")
        assert response.status_code == 401, response.text
        message = response.json()["error"]["message"]
        assert all(f"CLAUDE_CONFIG_DIR={folder}" in message for folder in folders.values()), message
    assert wait_gone([pid for _, pid in proxy.spawned]) == []
