"""The stack's environment: the .env file, generated keys, and backend addresses derived from ports."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from dotenv import dotenv_values

from maximus.stack import REPO_ROOT, service

# Keys `maximus up` generates when the user has not set them. LiteLLM wants its master key to start with sk-.
GENERATED_KEYS = {
    "MAXIMUS_MASTER_KEY": "sk-max-",
    "CLI_PROXY_API_KEY": "cp-",
    "TRACKER_API_KEY": "tr-",
    "VISION_API_KEY": "vi-",
}


def env_file() -> Path:
    return Path(os.environ.get("MAXIMUS_ENV_FILE", REPO_ROOT / ".env"))


def run_dir() -> Path:
    """Logs, pid files, rendered configs and native data: git-ignored."""
    return Path(os.environ.get("MAXIMUS_RUN_DIR", REPO_ROOT / ".run"))


def ensure_keys(path: Path) -> list[str]:
    """Append a fresh key for every generated key missing from `path` and the environment; return their names."""
    existing = dotenv_values(path) if path.exists() else {}
    missing = [name for name in GENERATED_KEYS if not existing.get(name) and not os.environ.get(name)]
    if missing:
        lines = [f"{name}={GENERATED_KEYS[name]}{secrets.token_urlsafe(24)}" for name in missing]
        prefix = "" if not path.exists() or path.read_text().endswith("\n") or not path.read_text() else "\n"
        with path.open("a") as handle:
            handle.write(prefix + "\n".join(lines) + "\n")
    path.chmod(0o600)
    return missing


def derived_defaults(env: Mapping[str, str]) -> dict[str, str]:
    """Backend addresses that follow from the ports, for variables the user did not set."""

    def port(name: str) -> int:
        return service(name).port(env)

    return {
        "OLLAMA_API_BASE": f"http://127.0.0.1:{port('ollama')}",
        "CLI_PROXY_API_BASE": f"http://127.0.0.1:{port('cli-proxy')}/v1",
        "VISION_API_BASE": f"http://127.0.0.1:{port('vision')}/v1",
        "TRACKER_URL": f"http://127.0.0.1:{port('tracker')}",
        "REDIS_URL": f"redis://127.0.0.1:{port('redis')}/0",
        "LITELLM_URL": f"http://127.0.0.1:{port('litellm')}",
        # The vision service phrases its findings through the gateway's local chat model.
        "VISION_CHAT_API_BASE": f"http://127.0.0.1:{port('litellm')}/v1",
        "PROMETHEUS_URL": f"http://127.0.0.1:{port('prometheus')}",
    }


def stack_environment(base: Mapping[str, str] | None = None, path: Path | None = None) -> dict[str, str]:
    """os.environ over the .env file over derived defaults: what every service of the stack sees."""
    env: dict[str, str] = {}
    file_path = path or env_file()
    if file_path.exists():
        env.update({k: v for k, v in dotenv_values(file_path).items() if v is not None})
    env.update(base if base is not None else os.environ)
    for name, value in derived_defaults(env).items():
        env.setdefault(name, value)
    return env


def apply_to_process(env: Mapping[str, str], target: MutableMapping[str, str] = os.environ) -> None:
    for name, value in env.items():
        target.setdefault(name, value)
