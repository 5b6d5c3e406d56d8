"""Who a gateway request comes from: the master key (admin), a team key (a person), or nobody.

One KeyCache per gateway process (maximus_kernel.team_keys), shared by the edge (maximus.gateway_edge) and
LiteLLM's custom auth (maximus.litellm_auth); its refresh and staleness come from litellm/gateway.yaml
`team_keys`, its Redis from the router's variables (MAXIMUS_REDIS_URL, then REDIS_URL).
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from maximus.stack import REPO_ROOT
from maximus_kernel.team_keys import ADMIN_NAME, KEY_PATTERN, KeyCache, KeyRecord, safe_url

CONFIG_ENV = "MAXIMUS_GATEWAY_CONFIG"
DEFAULT_CONFIG = REPO_ROOT / "litellm" / "gateway.yaml"
REDIS_URL_ENVS = ("MAXIMUS_REDIS_URL", "REDIS_URL")  # the router's and the tracker's order
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Caller:
    """`name` is set for the master key (admin) and a valid team key; `unavailable` when team keys cannot be
    checked (the cache is too old: Redis away)."""

    name: str | None = None
    record: KeyRecord | None = None
    unavailable: bool = False

    @property
    def admin(self) -> bool:
        return self.name == ADMIN_NAME and self.record is None


ADMIN = Caller(ADMIN_NAME)
NOBODY = Caller()


def redis_url() -> str:
    return next((os.environ[n] for n in REDIS_URL_ENVS if os.environ.get(n)), DEFAULT_REDIS_URL)


def unavailable_message() -> str:
    return (
        f"team keys unavailable: the key store (Redis at {safe_url(redis_url())}) does not answer; start Redis "
        "(`maximus status` says where it is), or use the master key meanwhile."
    )


@lru_cache(maxsize=1)
def key_cache() -> KeyCache:
    path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    raw = (yaml.safe_load(path.read_text()) or {}).get("team_keys") or {}
    cache = KeyCache(redis_url(), float(raw.get("refresh_s", 0.25)), float(raw.get("max_staleness_s", 1.0)))
    return cache.start()


def identify(given: str, master: str | None = None) -> Caller:
    """No Redis round trip: the master key (default: MAXIMUS_MASTER_KEY), a team key from this process's cache."""
    master = os.environ.get("MAXIMUS_MASTER_KEY", "") if master is None else master
    if not given:
        return NOBODY
    if master and hmac.compare_digest(given.encode(), master.encode()):
        return ADMIN
    if not KEY_PATTERN.match(given):
        return NOBODY  # not shaped like a team key: no cache needed to refuse it
    verdict = key_cache().check(given)
    if verdict.unavailable:
        return Caller(unavailable=True)
    return Caller(verdict.record.name, verdict.record) if verdict.record else NOBODY
