"""The CLI proxy served for real (uvicorn on a free port, in a thread) with fake CLIs from fakes/."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from tests.support.processes import free_port

FAKES = Path(__file__).parent / "fakes"
NODE_BIN = Path(__file__).resolve().parents[2] / "cli-proxy" / "node_modules" / ".bin"
API_KEY = "test-" + "proxy-key-" + "0123"

# Short limits so that timeouts are reached quickly; tests override per case.
FAST = {
    "concurrency": 2,
    "queue_timeout_s": 5,
    "first_byte_timeout_s": 5,
    "idle_timeout_s": 5,
    "total_timeout_s": 20,
    "kill_grace_s": 0.5,
    "keepalive_interval_s": 0.2,
    "stream_commit_s": 5,
}
MODELS = {
    "claude-opus": {"cli": "claude", "model": "opus"},
    "claude-default": {"cli": "claude", "model": None},
    "claude-sonnet": {"cli": "claude", "model": "sonnet"},
    "gemini-2.5-pro": {"cli": "gemini", "model": "gemini-2.5-pro"},
    "gpt-5.5": {"cli": "codex", "model": "gpt-5.5"},
}


@pytest.fixture(autouse=True, scope="session")
def _fast_python_for_fakes() -> Iterator[None]:
    """The fakes start with `env python3`: make that this venv's interpreter (3.11, no pyenv shim)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{old}"
    yield
    os.environ["PATH"] = old


def make_config(
    tmp_path: Path, clis: dict[str, dict[str, Any]] | None = None, search_path: list[str] | None = None, **top: Any
) -> Path:
    """A config file: the fake CLIs first on the search path, fast limits, fake credentials."""
    creds = tmp_path / "creds"
    (creds / "claude").mkdir(parents=True, exist_ok=True)
    (creds / "codex").mkdir(parents=True, exist_ok=True)
    (creds / "claude" / ".credentials.json").write_text('{"claudeAiOauth": {}}')
    (creds / "codex" / "auth.json").write_text('{"tokens": {}}')
    base = {
        "claude": {"credentials_from": str(creds / "claude")},
        "gemini": {"env": {"GEMINI_API_KEY": "AIza" + "FakeKeyForTests" * 3}},
        "codex": {"credentials_from": str(creds / "codex")},
    }
    for name, extra in (clis or {}).items():
        base[name] = {**base.get(name, {}), **extra}
    data = {
        "search_path": search_path if search_path is not None else [str(FAKES)],
        "use_system_path": False,
        "state_dir": str(tmp_path / "state"),
        "probe_timeout_s": 10,
        "recheck_interval_s": 3600,
        "defaults": FAST,
        "clis": base,
        "models": MODELS,
        **top,
    }
    path = tmp_path / "cli-proxy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class RunningProxy:
    base_url: str
    app: Any
    spawned: list[tuple[str, int]]

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=timeout)

    def chat(self, model: str, content: str, **extra: Any) -> httpx.Response:
        with self.client() as client:
            return client.post(
                "/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": content}], **extra},
            )

    def readyz(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/readyz", timeout=30).json()

    def wait_checked(self, timeout: float = 30.0) -> dict[str, Any]:
        """/readyz once every CLI has been checked at least once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.readyz()
            if all(c["state"] != "unknown" for c in report["clis"].values()):
                return report
            time.sleep(0.05)
        raise TimeoutError(f"readiness never finished: {report}")


@contextlib.contextmanager
def serve(config_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[RunningProxy]:
    from cli_proxy.app import create_app
    from cli_proxy.config import load_settings

    env = {"CLI_PROXY_API_KEY": API_KEY, "CLI_PROXY_CONFIG": str(config_path), **(extra_env or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = create_app(load_settings())
        spawned: list[tuple[str, int]] = []
        app.state.proxy.on_spawn = lambda cli, pid: spawned.append((cli, pid))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the CLI proxy did not start")
            time.sleep(0.02)
        try:
            yield RunningProxy(f"http://127.0.0.1:{port}", app, spawned)
        finally:
            server.should_exit = True
            thread.join(30)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def proxy_factory(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[RunningProxy]]:
    def factory(
        clis: dict[str, dict[str, Any]] | None = None, extra_env: dict[str, str] | None = None, **top: Any
    ) -> contextlib.AbstractContextManager[RunningProxy]:
        return serve(make_config(tmp_path, clis, **top), extra_env)

    return factory


@pytest.fixture
def proxy(proxy_factory: Callable[..., contextlib.AbstractContextManager[RunningProxy]]) -> Iterator[RunningProxy]:
    with proxy_factory() as running:
        yield running


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone between open and read: ProcessLookupError, not FileNotFoundError
        return False


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive after `timeout` (empty when all are gone)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def read_pidfile(path: Path, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was never written")
        time.sleep(0.02)
    return [int(p) for p in path.read_text().split()]
