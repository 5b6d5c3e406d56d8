"""Renders litellm/config.yaml for the proxy: ${VAR:-default} expansion and the cloud groups whose keys exist."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from maximus.stack import REPO_ROOT

LITELLM_DIR = REPO_ROOT / "litellm"
_PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def expand(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = env.get(match["name"]) or match["default"]
        if value is None:
            raise KeyError(f"{match['name']} is not set and has no default in litellm/config.yaml")
        return value

    return _PLACEHOLDER.sub(replace, text)


def _cloud_groups(cloud: Mapping[str, Any], env: Mapping[str, str]) -> list[dict[str, Any]]:
    groups = []
    for group in cloud.get("groups", []):
        if not env.get(group["requires_env"]):
            continue
        entry = {k: copy.deepcopy(v) for k, v in group.items() if k not in {"requires_env", "api_base_env"}}
        base_var = group.get("api_base_env")
        if base_var and env.get(base_var):
            entry["litellm_params"]["api_base"] = env[base_var]
        groups.append(entry)
    return groups


def is_embedding_group(group: Mapping[str, Any]) -> bool:
    """A group that only embeds (model_info.mode embedding): never a fallback of a chat chain."""
    return (group.get("model_info") or {}).get("mode") == "embedding"


def _append_last_resort(config: dict[str, Any], chains: list[str], cloud_names: list[str]) -> None:
    fallbacks = config.setdefault("router_settings", {}).setdefault("fallbacks", [])
    for rule in fallbacks:
        for group, targets in rule.items():
            if group in chains:
                targets.extend(name for name in cloud_names if name not in targets)


def _redis_settings(redis_url: str | None) -> dict[str, Any]:
    if not redis_url:
        return {}
    parsed = urlparse(redis_url)
    settings: dict[str, Any] = {"redis_host": parsed.hostname or "127.0.0.1", "redis_port": parsed.port or 6379}
    if parsed.password:
        settings["redis_password"] = parsed.password
    return settings


def enabled_cloud_groups(env: Mapping[str, str], source_dir: Path = LITELLM_DIR) -> dict[str, str]:
    """Cloud chat group -> the key variable that enables it, for the groups whose key is set (the emergency fallback;
    an embedding group answers only clients that name it)."""
    cloud_file = source_dir / "cloud.yaml"
    cloud = yaml.safe_load(cloud_file.read_text()) if cloud_file.exists() else {}
    return {
        g["model_name"]: g["requires_env"]
        for g in cloud.get("groups", [])
        if env.get(g["requires_env"]) and not is_embedding_group(g)
    }


def render(env: Mapping[str, str], source_dir: Path = LITELLM_DIR) -> dict[str, Any]:
    config = yaml.safe_load(expand((source_dir / "config.yaml").read_text(), env))
    cloud_file = source_dir / "cloud.yaml"
    cloud = yaml.safe_load(expand(cloud_file.read_text(), env)) if cloud_file.exists() else {}
    groups = _cloud_groups(cloud, env)
    config["model_list"].extend(groups)
    chat_groups = [g["model_name"] for g in groups if not is_embedding_group(g)]
    _append_last_resort(config, cloud.get("last_resort_for", []), chat_groups)
    # Shared cooldowns and deployment budgets live in the stack's Redis.
    config.setdefault("router_settings", {}).update(_redis_settings(env.get("REDIS_URL")))
    return config


def write(env: Mapping[str, str], target: Path, source_dir: Path = LITELLM_DIR) -> Path:
    """Write the config where LiteLLM reads it, whole: gateway processes starting together each write it, and
    one must never read another's half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(yaml.safe_dump(render(env, source_dir), sort_keys=False))
    partial.chmod(0o600)  # it may hold the Redis password from REDIS_URL
    partial.replace(target)
    return target
