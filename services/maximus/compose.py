"""Compose mode: the same stack in containers, where a Docker engine answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from maximus.stack import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
GPU_OVERRIDE = REPO_ROOT / "compose.gpu.yaml"


def _docker(*args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )


def engine_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return _docker("info", "--format", "{{.ServerVersion}}").returncode == 0
    except subprocess.TimeoutExpired:
        return False


def nvidia_runtime() -> bool:
    """The GPU override is used only where the engine has the NVIDIA runtime."""
    result = _docker("info", "--format", "{{json .Runtimes}}")
    return result.returncode == 0 and "nvidia" in result.stdout


def compose_files() -> list[str]:
    files = ["-f", str(COMPOSE_FILE)]
    if GPU_OVERRIDE.exists() and nvidia_runtime():
        files += ["-f", str(GPU_OVERRIDE)]
    return files


def base_command(env_file: Path) -> list[str]:
    return ["docker", "compose", "--project-directory", str(REPO_ROOT), "--env-file", str(env_file), *compose_files()]


def _services_by_kind() -> tuple[list[str], list[str]]:
    """Long-running services, and one-shot jobs (restart "no"), which `up --wait` would count as failed."""
    spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    one_shot = [name for name, svc in spec.items() if str(svc.get("restart", "")) == "no"]
    return [name for name in spec if name not in one_shot], one_shot


def _build_env() -> dict[str, str]:
    """The CLI proxy image runs as the invoking user, who owns the CLI logins it mounts read-only."""
    env = dict(os.environ)
    env.setdefault("MAXIMUS_UID", str(os.getuid()))
    env.setdefault("MAXIMUS_GID", str(os.getgid()))
    return env


def up(env_file: Path) -> int:
    long_running, one_shot = _services_by_kind()
    base = base_command(env_file)
    code = subprocess.run(
        [*base, "up", "--detach", "--build", "--wait", *long_running], check=False, env=_build_env()
    ).returncode
    if one_shot:
        # The model pull can take many minutes: it runs on in the background.
        subprocess.run([*base, "up", "--detach", "--no-deps", *one_shot], check=False, env=_build_env())
    return code


def down(env_file: Path) -> int:
    return subprocess.run([*base_command(env_file), "down"], check=False).returncode


def service_health(env_file: Path) -> dict[str, str]:
    result = subprocess.run(
        [*base_command(env_file), "ps", "--all", "--format", "json"], capture_output=True, text=True, check=False
    )
    states = {}
    for line in result.stdout.splitlines():
        if line.strip():
            entry = json.loads(line)
            states[entry["Service"]] = entry.get("Health") or entry.get("State", "")
    return states


def tier_report(env_file: Path) -> dict | None:
    """`maximus status --json` run inside the gateway container, which reaches every service by name."""
    result = subprocess.run(
        [*base_command(env_file), "exec", "-T", "litellm", "maximus", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
