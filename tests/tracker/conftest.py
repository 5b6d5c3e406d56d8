"""Real processes for the tracker tests: redis-server (restartable), the tracker service, its client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.processes import REPO, VENV_BIN, free_port, stop_process, wait_for_http, wait_for_port
from tests.support.stack import RedisServer

# The callback imports LiteLLM: keep it from downloading its price table (no network here).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

HERE = Path(__file__).parent
TEST_LITELLM_CONFIG = HERE / "litellm_config.yaml"
TEST_TRACKER_CONFIG = HERE / "tracker_test.yaml"
TRACKER_KEY = "tracker-test-key"


class RedisProcess:
    """A real redis-server; `persistent` keeps data across restarts (append-only file, fsync always)."""

    def __init__(self, directory: Path, persistent: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.proc: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = RedisServer(self.port, self.directory).command(persistent=self.persistent)
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:  # loading the append-only file answers LOADING until done
            try:
                client.ping()
                break
            except redis.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


class TrackerProcess:
    """The tracker service as a real process: `maximus serve tracker`, the command native mode and its container run."""

    def __init__(self, redis_url: str, directory: Path, litellm_config: Path = TEST_LITELLM_CONFIG) -> None:
        self.port = free_port()
        self.directory = directory
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MAXIMUS_REDIS_URL": redis_url,
            "TRACKER_API_KEY": TRACKER_KEY,
            "TRACKER_CONFIG": str(TEST_TRACKER_CONFIG),
            "MAXIMUS_LITELLM_CONFIG": str(litellm_config),
            "TRACKER_AUDIT_DIR": str(directory / "audit"),
            "TRACKER_CONSUMER": "tracker-test",
            "MAXIMUS_ENV_FILE": str(directory / "absent.env"),  # the checkout's .env stays out of the test
            "MAXIMUS_LOG_LEVEL": "warning",
        }
        for name in ("MAXIMUS_BUDGET_USD", "MAXIMUS_MONTHLY_BUDGET_USD"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "tracker.log").open("ab")
        cmd = [sys.executable, "-m", "maximus.cli", "serve", "tracker", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_http(f"{self.base_url}/healthz", 60, self.proc)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (a crash)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def stats(self) -> dict:
        response = httpx.get(f"{self.base_url}/stats", headers={"Authorization": f"Bearer {TRACKER_KEY}"}, timeout=10)
        response.raise_for_status()
        return response.json()

    def metrics(self) -> str:
        response = httpx.get(f"{self.base_url}/metrics", timeout=10)
        response.raise_for_status()
        return response.text


def wait_consumed(
    redis_url: str, stream: str = "maximus:events", group: str = "tracker", timeout: float = 60.0
) -> None:
    """Until the group exists, nothing is pending and the stream is empty (the tracker deletes what it counted)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                groups = {g["name"]: g for g in client.xinfo_groups(stream)}
            except redis.ResponseError:
                groups = {}
            info = groups.get(group)
            if info and info["pending"] == 0 and client.xlen(stream) == 0:
                return
            time.sleep(0.1)
    finally:
        client.close()
    raise TimeoutError(f"the tracker did not consume {stream} within {timeout}s")


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", persistent=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tracker_proc(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[TrackerProcess]:
    tracker = TrackerProcess(redis_proc.url, tmp_path / "tracker")
    tracker.start()
    yield tracker
    tracker.stop()
