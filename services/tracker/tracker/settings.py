"""Tracker settings: tracker.yaml (beside this module, or TRACKER_CONFIG) plus environment overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracker import tiers

DEFAULT_CONFIG = Path(__file__).with_name("tracker.yaml")
ROUTING_CONFIG_ENV = "MAXIMUS_ROUTING_CONFIG"  # the router's own variable for its routing.yaml


@dataclass(frozen=True, slots=True)
class Price:
    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    stream: str = "maximus:events"
    group: str = "tracker"
    stream_maxlen: int = 1_000_000
    dedupe_ttl_s: int = 604_800
    spool_dir: Path = Path(".run/tracker-spool")
    queue_size: int = 10_000
    audit_dir: Path = Path(".run/tracker-audit")
    audit_max_bytes: int = 10 * 1024 * 1024
    audit_backups: int = 10
    budget_usd: float = 20.0
    cloud_reference: Price = field(default_factory=lambda: Price(3.0, 15.0))
    # What a local embedding would have cost in the cloud: a chat model's price would overstate the saving ~150x.
    embedding_reference: Price = field(default_factory=lambda: Price(0.02, 0.0))
    subscription_usd_month: float = 20.0
    prices: dict[str, Price] = field(default_factory=dict)
    route_reasons: tuple[str, ...] = ("default", "other")
    privacy_kinds: tuple[str, ...] = ("secret", "other")
    sovereignty_target: float = 0.9  # read from the router's routing.yaml: one figure for both services
    sovereignty_window: int = 500  # routing.yaml sovereignty_online.window: recent answers kept for the live share
    user_labels: int = 50  # people with their own Prometheus `user` label; the rest are "other"
    labels_key: str = "maximus:labels"  # routing.yaml learning.labels_key: the router's labels (tracker.learning)
    adapter_meta_key: str = "maximus:adapter:meta"  # learning.adapter_key + ":meta": the stored adapter's summary


def _price(raw: Any) -> Price:
    raw = raw or {}
    return Price(float(raw.get("input_usd_per_mtok", 0.0)), float(raw.get("output_usd_per_mtok", 0.0)))


def _vocabulary(raw: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    words = tuple(str(word) for word in (raw or default))
    return words if "other" in words else (*words, "other")


def _run_dir_default(env: dict[str, str], name: str, configured: Any) -> Path:
    """A relative configured directory lives under MAXIMUS_RUN_DIR when that is set."""
    path = Path(configured)
    run_dir = env.get("MAXIMUS_RUN_DIR")
    return Path(run_dir) / name if run_dir and not path.is_absolute() else path


def routing_config_path(env: dict[str, str]) -> Path:
    """The router's routing.yaml: MAXIMUS_ROUTING_CONFIG, else beside the LiteLLM config the tiers come from."""
    litellm_config = Path(env.get(tiers.CONFIG_ENV) or tiers.DEFAULT_CONFIG)
    return Path(env.get(ROUTING_CONFIG_ENV) or litellm_config.with_name("routing.yaml"))


def _sovereignty(path: Path, defaults: Settings) -> tuple[float, int]:
    """The share the router steers toward and the window of recent answers it steers on; the defaults while the
    file is absent (a tracker without a router)."""
    if not path.is_file():
        return defaults.sovereignty_target, defaults.sovereignty_window
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    online = raw.get("sovereignty_online") or {}
    target = float(raw.get("sovereignty_target", defaults.sovereignty_target))
    return target, max(1, int(online.get("window", defaults.sovereignty_window)))


def _learning_keys(path: Path, defaults: Settings) -> tuple[str, str]:
    """The router's label list and adapter summary keys (routing.yaml learning), for tracker.learning."""
    if not path.is_file():
        return defaults.labels_key, defaults.adapter_meta_key
    with path.open(encoding="utf-8") as handle:
        learning = (yaml.safe_load(handle) or {}).get("learning") or {}
    adapter = learning.get("adapter_key")
    meta = f"{adapter}:meta" if adapter else defaults.adapter_meta_key
    return str(learning.get("labels_key", defaults.labels_key)), meta


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Environment wins: MAXIMUS_REDIS_URL or REDIS_URL, MAXIMUS_SPOOL_DIR, TRACKER_AUDIT_DIR,
    MAXIMUS_BUDGET_USD or MAXIMUS_MONTHLY_BUDGET_USD (0 = no cap)."""
    env = dict(os.environ if env is None else env)
    path = path or Path(env.get("TRACKER_CONFIG") or DEFAULT_CONFIG)
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    redis_cfg, spool, audit = raw.get("redis") or {}, raw.get("spool") or {}, raw.get("audit") or {}
    defaults = Settings()
    target, window = _sovereignty(routing_config_path(env), defaults)
    labels_key, adapter_meta_key = _learning_keys(routing_config_path(env), defaults)
    spool_dir, audit_dir = spool.get("dir", defaults.spool_dir), audit.get("dir", defaults.audit_dir)
    return Settings(
        redis_url=env.get("MAXIMUS_REDIS_URL") or env.get("REDIS_URL") or redis_cfg.get("url", defaults.redis_url),
        stream=env.get("MAXIMUS_EVENT_STREAM") or redis_cfg.get("stream", defaults.stream),
        group=redis_cfg.get("group", defaults.group),
        stream_maxlen=int(redis_cfg.get("stream_maxlen", defaults.stream_maxlen)),
        dedupe_ttl_s=int(redis_cfg.get("dedupe_ttl_s", defaults.dedupe_ttl_s)),
        spool_dir=Path(env.get("MAXIMUS_SPOOL_DIR") or _run_dir_default(env, "tracker-spool", spool_dir)),
        queue_size=int(spool.get("queue_size", defaults.queue_size)),
        audit_dir=Path(env.get("TRACKER_AUDIT_DIR") or _run_dir_default(env, "tracker-audit", audit_dir)),
        audit_max_bytes=int(audit.get("max_bytes", defaults.audit_max_bytes)),
        audit_backups=int(audit.get("backups", defaults.audit_backups)),
        budget_usd=float(
            env.get("MAXIMUS_BUDGET_USD")
            or env.get("MAXIMUS_MONTHLY_BUDGET_USD")  # the router's name for the same figure
            or (raw.get("budget") or {}).get("monthly_usd", 20.0)
        ),
        cloud_reference=_price(raw.get("cloud_reference")),
        embedding_reference=_price(raw.get("embedding_reference") or {"input_usd_per_mtok": 0.02}),
        subscription_usd_month=float(raw.get("cloud_subscription_usd_month", defaults.subscription_usd_month)),
        prices={str(group): _price(price) for group, price in (raw.get("prices") or {}).items()},
        route_reasons=_vocabulary(raw.get("route_reasons"), defaults.route_reasons),
        privacy_kinds=_vocabulary(raw.get("privacy_kinds"), defaults.privacy_kinds),
        sovereignty_target=target,
        sovereignty_window=window,
        user_labels=max(0, int((raw.get("users") or {}).get("max_labels", defaults.user_labels))),
        labels_key=labels_key,
        adapter_meta_key=adapter_meta_key,
    )
