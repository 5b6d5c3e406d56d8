"""Tiers and which model group belongs to which, read from the LiteLLM config (model_info.sovereign_tier).

`model_info.tier` is reserved by LiteLLM (free/paid): our key is `sovereign_tier`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TIERS: tuple[str, ...] = ("local", "power", "creative", "vision", "cloud")
SOVEREIGN_TIERS: frozenset[str] = frozenset({"local", "vision"})
TIER_KEY = "sovereign_tier"
CONFIG_ENV = "MAXIMUS_LITELLM_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "litellm" / "config.yaml"


def is_sovereign(tier: str | None) -> bool:
    return tier in SOVEREIGN_TIERS


def tier_map_from_config(config: Mapping[str, Any]) -> dict[str, str]:
    """{model group: tier} for every deployment that declares a known sovereign_tier."""
    groups: dict[str, str] = {}
    for deployment in config.get("model_list") or []:
        if not isinstance(deployment, Mapping):
            continue
        tier = (deployment.get("model_info") or {}).get(TIER_KEY)
        name = deployment.get("model_name")
        if isinstance(name, str) and tier in TIERS:
            groups[name] = tier
    return groups


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _read_yaml(path: Path) -> Mapping[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def load_tier_map(path: Path | None = None) -> dict[str, str]:
    """The tier map from the LiteLLM config file and the cloud groups beside it (cloud.yaml, whose groups
    exist only when their keys are set); empty when the file is absent (events then carry the tier)."""
    path = path or config_path()
    groups: dict[str, str] = {}
    cloud = path.with_name("cloud.yaml")
    if cloud.is_file():
        groups.update(tier_map_from_config({"model_list": _read_yaml(cloud).get("groups") or []}))
    if path.is_file():
        groups.update(tier_map_from_config(_read_yaml(path)))
    return groups
