"""A whole compose stack of the real compose.yaml (plus compose.test.yaml) under a unique project name.

Only the gateway is published (on a free loopback port); everything else is reached from inside the stack's
network by `docker compose exec` in the gateway container, as `maximus status` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from maximus import environment
from tests.support.processes import REPO, free_port

COMPOSE_FILES = "compose.yaml:compose.test.yaml"
MAXIMUS = Path(sys.executable).with_name("maximus")
# Fetches a URL from inside the gateway container (the other services are not published).
FETCH = (
    "import sys, urllib.request as u\n"
    "headers = {'Authorization': 'Bearer ' + sys.argv[2]} if len(sys.argv) > 2 else {}\n"
    "sys.stdout.write(u.urlopen(u.Request(sys.argv[1], headers=headers), timeout=10).read().decode())\n"
)


@dataclass
class ComposeStack:
    workdir: Path
    project: str = field(default_factory=lambda: f"maximus-test-{uuid.uuid4().hex[:8]}")
    gateway_port: int = field(default_factory=free_port)

    @property
    def env_file(self) -> Path:
        return self.workdir / ".env"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k not in environment.GENERATED_KEYS}
        return {
            **keep,
            "COMPOSE_PROJECT_NAME": self.project,
            "COMPOSE_FILE": COMPOSE_FILES,
            "MAXIMUS_ENV_FILE": str(self.env_file),
            "MAXIMUS_RUN_DIR": str(self.workdir / "run"),
        }

    def write_env_file(self, model_dir: Path) -> None:
        homes = {name: self.workdir / "home" / name for name in ("claude", "codex", "gemini")}
        self.env_file.write_text(
            f"LITELLM_PORT={self.gateway_port}\n"
            f"VISION_MODEL_DIR={model_dir}\n"
            f"CLAUDE_CONFIG_HOST_DIR={homes['claude']}\nCODEX_HOST_DIR={homes['codex']}\n"
            f"GEMINI_HOST_DIR={homes['gemini']}\n"
        )
        environment.ensure_keys(self.env_file)

    def key(self, name: str) -> str:
        return dotenv_values(self.env_file)[name] or ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/v1"

    def maximus(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        env = {**self.env(), "COLUMNS": "200"}
        return subprocess.run(
            [str(MAXIMUS), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout, check=False
        )

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "--project-directory", str(REPO), "--env-file", str(self.env_file), *args]
        return subprocess.run(
            command, capture_output=True, text=True, env=self.env(), cwd=REPO, timeout=timeout, check=False
        )

    def fetch(self, url: str, key: str | None = None) -> str:
        """GET `url` from inside the gateway container."""
        extra = [key] if key else []
        result = self.compose("exec", "-T", "litellm", "python", "-c", FETCH, url, *extra, timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    def fetch_json(self, url: str, key: str | None = None) -> Any:
        return json.loads(self.fetch(url, key))

    def tracker_requests(self) -> int:
        """Durable total of answered requests, as the tracker's /stats reads it from Redis."""
        return int(self.fetch_json("http://tracker:8002/stats", self.key("TRACKER_API_KEY"))["requests"])

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, command in {
            "containers": ["ps", "--all", "--quiet", "--filter", label],
            "networks": ["network", "ls", "--quiet", "--filter", label],
            "volumes": ["volume", "ls", "--quiet", "--filter", label],
        }.items():
            result = subprocess.run(["docker", *command], capture_output=True, text=True, check=False, timeout=60)
            found[kind] = result.stdout.split()
        return found


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def counter_total(metrics: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    wanted = [f'{k}="{v}"' for k, v in (labels or {}).items()]
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name) and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total
