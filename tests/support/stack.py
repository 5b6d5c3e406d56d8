"""Real processes of the stack for integration tests: Redis, the Ollama double, OpenAI doubles, LiteLLM."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from maximus import environment, litellm_config, litellm_env
from maximus.shared_port import listening_ports
from tests.support.processes import free_port, running, wait_for_port

PYTHON = sys.executable


@dataclass
class RedisServer:
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, persistent: bool = False) -> list[str]:
        """redis-server on loopback; `persistent` keeps data across restarts (append-only file, fsync always)."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        return [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            *persistence,
            "--dir",
            str(self.data_dir),
        ]


@contextlib.contextmanager
def redis_server(workdir: Path, port: int | None = None) -> Iterator[RedisServer]:
    server = RedisServer(port or free_port(), workdir / "redis")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    with running(server.command(), log_path=workdir / "redis.log", port=server.port):
        yield server


@dataclass
class HttpDouble:
    """A double started as a real process; `requests()` returns what it recorded."""

    base_url: str
    port: int

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/_double/requests"

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(self.control_url, timeout=5).json()

    def clear(self) -> None:
        httpx.delete(self.control_url, timeout=5)

    def hold(self, on: bool) -> None:
        """The OpenAI double only: hold every completion (recorded on arrival) until released."""
        httpx.put(f"http://127.0.0.1:{self.port}/_double/hold", json={"on": on}, timeout=5).raise_for_status()

    def stall(self, mode: str, chunks: int | None = None) -> None:
        """The Ollama double only: "never" (accept, never answer), "headers" (headers, then nothing), "midstream"
        (the first `chunks` chunks of a stream, then nothing), "off"."""
        body: dict[str, Any] = {"mode": mode} if chunks is None else {"mode": mode, "chunks": chunks}
        httpx.put(f"http://127.0.0.1:{self.port}/_double/stall", json=body, timeout=5).raise_for_status()


@contextlib.contextmanager
def ollama_double(workdir: Path, models: str = "gemma3,llama3.1,embeddinggemma") -> Iterator[HttpDouble]:
    port = free_port()
    cmd = [PYTHON, "-m", "tests.doubles.ollama", "--port", str(port), "--models", models]
    with running(
        cmd, log_path=workdir / f"ollama-double-{port}.log", health_url=f"http://127.0.0.1:{port}/api/version"
    ):
        yield HttpDouble(f"http://127.0.0.1:{port}", port)


@contextlib.contextmanager
def openai_double(
    workdir: Path,
    name: str,
    fail_status: int | None = None,
    usage: tuple[int, int] | None = None,
    reply: str | None = None,
) -> Iterator[HttpDouble]:
    """tests/doubles/openai_backend.py; `usage` = fixed (prompt, completion) token counts in every answer, `reply`
    the text of every answer."""
    port = free_port()
    cmd = [PYTHON, "-m", "tests.doubles.openai_backend", "--port", str(port), "--name", name]
    if fail_status:
        cmd += ["--fail-status", str(fail_status)]
    if usage:
        cmd += ["--usage", f"{usage[0]},{usage[1]}"]
    if reply is not None:
        cmd += ["--reply", reply]
    with running(cmd, log_path=workdir / f"{name}-double-{port}.log", health_url=f"http://127.0.0.1:{port}/v1/models"):
        yield HttpDouble(f"http://127.0.0.1:{port}/v1", port)


@dataclass
class LiteLLMProxy:
    base_url: str
    port: int
    master_key: str
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    pid: int | None = None

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def closed_port_url(path: str = "") -> str:
    """An address where nothing listens: a backend that is down."""
    return f"http://127.0.0.1:{free_port()}{path}"


ConfigEdit = Callable[[dict[str, Any]], None]


@contextlib.contextmanager
def litellm_proxy(
    workdir: Path,
    backends: Mapping[str, str],
    master_key: str = "sk-test-master",
    edit: ConfigEdit | None = None,
    port: int | None = None,
) -> Iterator[LiteLLMProxy]:
    """The real LiteLLM proxy with our config and hook, started by `maximus serve litellm`.

    `backends` sets the environment the config reads (OLLAMA_API_BASE, CLI_PROXY_API_BASE, ...); anything not
    given points at a closed port, so a test never reaches a real service by accident. With `edit`, the config is
    rendered here as `maximus serve litellm` renders it, changed by `edit` (e.g. one timeout, so that the test still
    runs every other shipped setting), and the gateway started the way serve execs it. Given a `port` another
    gateway process serves, this one shares it (SO_REUSEPORT) and is ready once it listens there itself.
    """
    shared = port is not None
    port = port or free_port()
    run_dir = workdir / f"litellm-{port}-{len(list(workdir.glob(f'litellm-{port}*.log')))}"
    env = {
        "MAXIMUS_MASTER_KEY": master_key,
        "MAXIMUS_RUN_DIR": str(run_dir),
        "MAXIMUS_ENV_FILE": str(run_dir / "absent.env"),
        "OLLAMA_API_BASE": closed_port_url(),
        "CLI_PROXY_API_BASE": closed_port_url("/v1"),
        "CLI_PROXY_API_KEY": "cp-test",
        "VISION_API_BASE": closed_port_url("/v1"),
        "VISION_API_KEY": "vi-test",
        "REDIS_URL": "",
        "TRACKER_URL": closed_port_url(),
        # One process: a test that wants several starts several (tests/team) or runs `maximus up` (tests/faults).
        "MAXIMUS_GATEWAY_PROCESSES": "1",
        **backends,
    }
    log_path = run_dir.with_suffix(".log")
    cmd = [PYTHON, "-m", "maximus.cli", "serve", "litellm", "--port", str(port)]
    if edit is not None:
        cmd = _gateway_command(_edited_config(env, run_dir, edit), port)
        env = litellm_env.gateway_environment({**os.environ, **env})  # as maximus/serve.py exec_litellm does
    health = None if shared else f"http://127.0.0.1:{port}/health/liveliness"
    with running(cmd, env=env, log_path=log_path, health_url=health, timeout=120) as proc:
        if shared:
            _wait_listening(proc, port)
        yield LiteLLMProxy(f"http://127.0.0.1:{port}", port, master_key, env, log_path, proc.pid)


def _wait_listening(proc: subprocess.Popen, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while port not in listening_ports(proc.pid):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the gateway process {proc.pid} never listened on {port}")
        time.sleep(0.2)


def _edited_config(env: Mapping[str, str], run_dir: Path, edit: ConfigEdit) -> Path:
    """The config `maximus serve litellm` would write for `env`, changed by `edit`."""
    config = litellm_config.render(environment.stack_environment({**os.environ, **env}, Path(env["MAXIMUS_ENV_FILE"])))
    edit(config)
    path = run_dir / "litellm" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _gateway_command(config: Path, port: int) -> list[str]:
    """What `maximus serve litellm` execs after rendering the config (maximus/serve.py exec_litellm)."""
    argv = [PYTHON, "-m", "maximus.gateway", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return [*argv, "--num_workers", "1"]


def local_timeout(seconds: float) -> ConfigEdit:
    """A config edit: every local deployment times out after `seconds` of silence, streaming or not (the shipped
    config waits 600 s). A stream takes `stream_timeout`, else the global request_timeout, never `timeout`."""

    def edit(config: dict[str, Any]) -> None:
        for deployment in config["model_list"]:
            if deployment.get("model_info", {}).get("sovereign_tier") == "local":
                deployment["litellm_params"].update(timeout=seconds, stream_timeout=seconds)

    return edit


def wait_redis(server: RedisServer) -> None:
    wait_for_port(server.port)


@dataclass
class PrometheusServer:
    base_url: str
    port: int
    config_path: Path

    def query(self, promql: str) -> dict[str, Any]:
        """An instant query; raises on a PromQL error (Prometheus answers 400 with the parse error)."""
        response = httpx.get(f"{self.base_url}/api/v1/query", params={"query": promql}, timeout=10)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body.get('error', response.text)}")
        return body["data"]

    def query_at(self, promql: str, at: float) -> dict[str, Any]:
        """An instant query evaluated at `at` (Unix seconds, e.g. a sample's own timestamp)."""
        response = httpx.get(f"{self.base_url}/api/v1/query", params={"query": promql, "time": f"{at:.3f}"}, timeout=10)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body.get('error', response.text)}")
        return body["data"]

    def wait_for_scrape(self, job: str, timeout: float = 30.0) -> None:
        """The first scrape lands seconds after start: poll for it, never sleep a guess."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.query(f'up{{job="{job}"}} == 1')["result"]:
                return
            time.sleep(0.25)
        raise TimeoutError(f"Prometheus did not scrape job {job!r} within {timeout}s")


@contextlib.contextmanager
def prometheus_server(workdir: Path, config: Mapping[str, Any]) -> Iterator[PrometheusServer]:
    """The real Prometheus (Debian package) with `config` (a prometheus.yml as a dict)."""
    port = free_port()
    home = workdir / f"prometheus-{port}"
    (home / "data").mkdir(parents=True)
    config_path = home / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    cmd = [
        "prometheus",
        f"--config.file={config_path}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(cmd, log_path=home / "prometheus.log", health_url=f"http://127.0.0.1:{port}/-/ready"):
        yield PrometheusServer(f"http://127.0.0.1:{port}", port, config_path)
