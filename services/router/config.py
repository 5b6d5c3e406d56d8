"""Routing configuration: litellm/routing.yaml loaded into typed, immutable settings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from router.shape_settings import ShapeSettings, parse_shape_settings

TIERS = ("local", "power", "creative", "vision")
CONFIG_ENV = "MAXIMUS_ROUTING_CONFIG"
BUDGET_ENV = "MAXIMUS_MONTHLY_BUDGET_USD"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TierConfig:
    name: str
    models: dict[str, str]
    sovereign: bool
    context_window: int | None = None

    @property
    def model(self) -> str:
        return self.models["chat"]


@dataclass(frozen=True)
class PrivacyConfig:
    action: str = "redirect"
    default_phone_region: str = "US"
    markers: tuple[str, ...] = ()
    extra_token_patterns: dict[str, str] = field(default_factory=dict)
    placeholder_values: frozenset[str] = frozenset()
    placeholder_email_domains: frozenset[str] = frozenset()
    placeholder_email_local_parts: frozenset[str] = frozenset()
    documentation_email_domains: frozenset[str] = frozenset({"example.com", "example.org", "example.net"})
    reserved_email_tlds: tuple[str, ...] = (".example", ".test", ".invalid", ".localhost")
    health_terms: tuple[str, ...] = ()
    max_scan_chars: int = 1_000_000  # a request with more text is kept local unscanned (fail closed)
    offload_scan_chars: int = 65_536  # a request with more text is judged on a worker thread


@dataclass(frozen=True)
class BudgetConfig:
    monthly_usd: float = 0.0
    warn_ratio: float = 0.8
    # Environment variables naming the Redis of the tracker's totals, first set wins (the tracker's own order).
    redis_url_envs: tuple[str, ...] = ("MAXIMUS_REDIS_URL", "REDIS_URL")
    spend_key: str = "maximus:month:{month}"  # the tracker's durable month totals (tracker/totals.py)
    spend_field: str | None = "cost_usd"
    refresh_s: float = 5.0
    timeout_s: float = 1.0  # Redis socket timeout of the background read (and the first request's longest wait)
    max_staleness_s: float = 60.0  # an older spend figure fails closed: non-local tiers disabled
    user_spend_field: str = "user|{user}|cost_usd"  # a person's spend in the same month hash (router.people)


@dataclass(frozen=True)
class HealthConfig:
    source: str = "litellm+redis"
    redis_key: str = "maximus:tier:{tier}:down"
    refresh_s: float = 2.0
    skip_to: str = "local"
    timeout_s: float = 0.05  # Redis socket timeout of the health key reads
    litellm_refresh_s: float = 1.0  # LiteLLM's cooldowns are re-read at most this often


@dataclass(frozen=True)
class TierEndpoint:
    """Where a tier answers, for error messages: the environment variable the proxy reads its address from."""

    address_env: str | None
    default_address: str
    fix: str


@dataclass(frozen=True)
class ContextConfig:
    chars_per_token: float = 4.0
    reserve_output_tokens: int = 1024
    max_reserve_output_tokens: int = 4096
    image_tokens: int = 800


@dataclass(frozen=True)
class ClassifierConfig:
    model_file: Path = PACKAGE_DIR / "classifier.json"
    local_margin: float = 0.0
    keyword_weight: float = 1.5


@dataclass(frozen=True)
class NeedConfig:
    model_file: Path = PACKAGE_DIR / "need.json"
    threshold: float = 0.5  # score at or above which a request is escalated (maximus route calibrate writes it)


@dataclass(frozen=True)
class OnlineConfig:
    """The hook's threshold controller (router.sovereignty): bounds and window of the online adjustment."""

    enabled: bool = True
    window: int = 500  # recent decisions the live local share is computed over
    min_decisions: int = 50  # the calibrated threshold is used alone until the window holds this many
    recompute_every: int = 20  # decisions between two threshold updates (a sort of the window)
    max_shift: float = 0.2  # the live threshold stays within calibrated +- max_shift, and within 0.01..0.99
    follow_tracker: bool = True  # steer on the tracker's observed share of the last `window` answers (Redis)
    tracker_refresh_s: float = 2.0  # how often that share is re-read in the background
    tracker_key: str = "maximus:recent"  # the tracker's list of recent answers (tracker/totals.py RECENT_KEY)


@dataclass(frozen=True)
class CascadeConfig:
    """The cascade on the local answer's log-probabilities (router.cascade): off unless enabled."""

    enabled: bool = False
    local_model: str = "max-buddy-lp"  # a local group whose engine returns log-probabilities (Ollama's /v1)
    statistic: str = "mean"  # mean | quantile: of the answer's token log-probabilities
    quantile: float = 0.1  # with statistic quantile: this low quantile of the token log-probabilities
    threshold: float = -0.7  # a confidence below it escalates, until the threshold is calibrated on answers
    escalate_share: float = 0.1  # calibrated: this share of the recent local answers (the least confident) escalates
    window: int = 500  # the recent local answers the calibration sorts
    min_samples: int = 50  # before this many, the configured threshold is used
    stream_prefix_tokens: int = 8  # a stream is held back this many tokens while its confidence is judged


@dataclass(frozen=True)
class LearningConfig:
    """What the router learns from the installation's own traffic (router.labels, router.adapter)."""

    max_labels: int = 5000  # the label list in Redis is trimmed to this many, newest first
    keep_text: bool = False  # keep each label's request text beside its feature vector (operator opt-in)
    labels_key: str = "maximus:labels"
    adapter_key: str = "maximus:adapter"  # the fitted adapter (JSON), read by the gateway and `maximus route`
    refresh_s: float = 5.0  # the gateway re-reads the adapter's version this often, in the background
    timeout_s: float = 0.5  # Redis socket timeout of that read
    min_labels: int = 40  # fewer labels than this: no adapter is fitted
    guard_folds: int = 5  # the guard's folds: each held-back fold is ranked by an adapter fitted without it
    guard_repeats: int = 5  # the folds are drawn this many times (a steadier verdict)
    alpha: float = 0.1  # the L2 penalty of the adapter's logistic regression, C = 1 / alpha (router.adapter_train)
    weight: float = 0.3  # the adapter's shift of a request, in spreads of the need model's gain on the labels
    seed: int = 0
    cascade: CascadeConfig = field(default_factory=CascadeConfig)
    # Labels from the gateway's own traffic (router.traffic_labels): what each answered request was decided as,
    # kept briefly for feedback and re-asks; re-asks; shadow judging (off unless shadow_share > 0).
    requests_key: str = "maximus:requests"  # "<key>:<request id>" per request, "<key>" the bounded index
    request_ttl_s: int = 3600  # how long a request id answers feedback
    max_requests: int = 20000  # at most this many request records at once (the oldest go first)
    reask_window_s: int = 600  # a strong-tier re-ask this soon after a local answer labels it insufficient
    reask_max_per_person: int = 200  # local answers remembered per person for re-asks
    shadow_share: float = 0.0  # share of non-private local answers also sent to the strong tier and judged
    shadow_max_per_day: int = 50  # at most this many shadowed requests per UTC day, across gateway processes
    shadow_tier: str = "power"  # the strong tier that answers and judges
    shadow_key: str = "maximus:shadow:{day}"  # the day's counter ({day}: YYYY-MM-DD, UTC)


@dataclass(frozen=True)
class RoutingConfig:
    tiers: dict[str, TierConfig]
    virtual_model: str
    model_tiers: dict[str, str]
    explicit_header: str
    explicit_metadata_key: str
    privacy: PrivacyConfig
    budget: BudgetConfig
    health: HealthConfig
    context: ContextConfig
    classifier: ClassifierConfig
    keywords: dict[str, tuple[str, ...]]
    need: NeedConfig = field(default_factory=NeedConfig)
    sovereignty_target: float = 0.9
    online: OnlineConfig = field(default_factory=OnlineConfig)
    source: Path | None = None
    endpoints: dict[str, TierEndpoint] = field(default_factory=dict)
    learning: LearningConfig = field(default_factory=LearningConfig)
    shapes: ShapeSettings = field(default_factory=ShapeSettings)  # API shapes, capabilities (router.shape_settings)

    def tier_of_model(self, model: str) -> str | None:
        """The tier an explicit model name belongs to; None for a model outside every tier."""
        if model in self.model_tiers:
            return self.model_tiers[model]
        for tier in self.tiers.values():
            if model in tier.models.values():
                return tier.name
        return None

    def is_sovereign_model(self, model: str) -> bool:
        tier = self.tier_of_model(model)
        return tier is not None and self.tiers[tier].sovereign


def default_config_path() -> Path:
    """MAXIMUS_ROUTING_CONFIG, else litellm/routing.yaml of the source tree (editable install), of
    $MAXIMUS_HOME (the container's /opt/maximus) or of the working directory."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    candidates = [PACKAGE_DIR.parents[1] / "litellm" / "routing.yaml"]
    if os.environ.get("MAXIMUS_HOME"):
        candidates.append(Path(os.environ["MAXIMUS_HOME"]) / "litellm" / "routing.yaml")
    candidates.append(Path.cwd() / "litellm" / "routing.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return PACKAGE_DIR.parents[1] / "litellm" / "routing.yaml"


def _tiers(raw: dict[str, Any]) -> dict[str, TierConfig]:
    defaults = {"local": "max-buddy", "power": "max-genius", "creative": "max-opus", "vision": "max-vision"}
    tiers = {}
    for name in TIERS:
        entry = raw.get(name) or {}
        models = dict(entry.get("models") or {"chat": defaults[name]})
        models.setdefault("chat", defaults[name])
        tiers[name] = TierConfig(
            name=name,
            models=models,
            sovereign=bool(entry.get("sovereign", name in ("local", "vision"))),
            context_window=entry.get("context_window"),
        )
    return tiers


def _privacy(raw: dict[str, Any]) -> PrivacyConfig:
    email = raw.get("email") or {}
    action = str(raw.get("action", "redirect")).lower()
    if action not in ("redirect", "refuse"):
        raise ValueError(f"privacy.action must be redirect or refuse, not {action!r}")
    return PrivacyConfig(
        action=action,
        default_phone_region=str(raw.get("default_phone_region", "US")).upper(),
        markers=tuple(raw.get("markers") or ()),
        max_scan_chars=int(raw.get("max_scan_chars", PrivacyConfig.max_scan_chars)),
        offload_scan_chars=int(raw.get("offload_scan_chars", PrivacyConfig.offload_scan_chars)),
        extra_token_patterns=dict(raw.get("extra_token_patterns") or {}),
        placeholder_values=frozenset(str(v).lower() for v in raw.get("placeholder_values") or ()),
        placeholder_email_domains=frozenset(str(v).lower() for v in email.get("placeholder_domains") or ()),
        placeholder_email_local_parts=frozenset(str(v).lower() for v in email.get("placeholder_local_parts") or ()),
        documentation_email_domains=frozenset(
            str(v).lower() for v in email.get("documentation_domains", PrivacyConfig.documentation_email_domains)
        ),
        reserved_email_tlds=tuple(
            "." + str(v).lower().lstrip(".") for v in email.get("reserved_tlds", PrivacyConfig.reserved_email_tlds)
        ),
        health_terms=tuple(raw.get("health_terms") or ()),
    )


def _monthly_budget(raw: dict[str, Any]) -> float:
    """One budget for the router and the tracker's alerts: the tracker's setting unless routing.yaml sets one."""
    if "monthly_usd" in raw and not os.environ.get(BUDGET_ENV):
        return float(raw["monthly_usd"] or 0)
    from tracker.settings import load_settings  # no LiteLLM import: cheap

    return load_settings().budget_usd


def _env_names(value: Any) -> tuple[str, ...]:
    """One environment variable name or a list of them (the first one set wins)."""
    names = [value] if isinstance(value, str) else list(value or ())
    return tuple(str(name) for name in names if str(name).strip())


def _budget(raw: dict[str, Any]) -> BudgetConfig:
    return BudgetConfig(
        monthly_usd=_monthly_budget(raw),
        warn_ratio=float(raw.get("warn_ratio", 0.8)),
        redis_url_envs=_env_names(raw.get("redis_url_envs", raw.get("redis_url_env", BudgetConfig.redis_url_envs))),
        spend_key=str(raw.get("spend_key", BudgetConfig.spend_key)),
        spend_field=raw.get("spend_field", BudgetConfig.spend_field),
        refresh_s=float(raw.get("refresh_s", 5)),
        timeout_s=float(raw.get("timeout_s", BudgetConfig.timeout_s)),
        max_staleness_s=float(raw.get("max_staleness_s", BudgetConfig.max_staleness_s)),
        user_spend_field=str(raw.get("user_spend_field", BudgetConfig.user_spend_field)),
    )


def _endpoints(raw: dict[str, Any]) -> dict[str, TierEndpoint]:
    return {
        str(tier): TierEndpoint(
            address_env=str(entry["address_env"]) if entry.get("address_env") else None,
            default_address=str(entry.get("default_address", "")),
            fix=str(entry.get("fix", "")),
        )
        for tier, entry in raw.items()
        if isinstance(entry, dict)
    }


def _classifier(raw: dict[str, Any]) -> ClassifierConfig:
    path = Path(str(raw.get("model_file", "classifier.json")))
    return ClassifierConfig(
        model_file=path if path.is_absolute() else PACKAGE_DIR / path,
        local_margin=float(raw.get("local_margin", 0.0)),
        keyword_weight=float(raw.get("keyword_weight", 1.5)),
    )


def _need(raw: dict[str, Any]) -> NeedConfig:
    path = Path(str(raw.get("model_file", "need.json")))
    threshold = float(raw.get("threshold", NeedConfig.threshold))
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"need.threshold must be within 0..1, not {threshold}")
    return NeedConfig(model_file=path if path.is_absolute() else PACKAGE_DIR / path, threshold=threshold)


def _online(raw: dict[str, Any]) -> OnlineConfig:
    cfg = OnlineConfig(
        enabled=bool(raw.get("enabled", True)),
        window=int(raw.get("window", OnlineConfig.window)),
        min_decisions=int(raw.get("min_decisions", OnlineConfig.min_decisions)),
        recompute_every=int(raw.get("recompute_every", OnlineConfig.recompute_every)),
        max_shift=float(raw.get("max_shift", OnlineConfig.max_shift)),
        follow_tracker=bool(raw.get("follow_tracker", OnlineConfig.follow_tracker)),
        tracker_refresh_s=float(raw.get("tracker_refresh_s", OnlineConfig.tracker_refresh_s)),
        tracker_key=str(raw.get("tracker_key", OnlineConfig.tracker_key)),
    )
    if cfg.window < 1 or cfg.recompute_every < 1 or not 0.0 <= cfg.max_shift <= 1.0 or cfg.tracker_refresh_s <= 0:
        raise ValueError(
            "sovereignty_online: window and recompute_every >= 1, max_shift within 0..1, tracker_refresh_s > 0"
        )
    return cfg


def _learning(raw: dict[str, Any]) -> LearningConfig:
    defaults = LearningConfig()
    cfg = LearningConfig(
        max_labels=int(raw.get("max_labels", defaults.max_labels)),
        keep_text=bool(raw.get("keep_text", defaults.keep_text)),
        labels_key=str(raw.get("labels_key", defaults.labels_key)),
        adapter_key=str(raw.get("adapter_key", defaults.adapter_key)),
        refresh_s=float(raw.get("refresh_s", defaults.refresh_s)),
        timeout_s=float(raw.get("timeout_s", defaults.timeout_s)),
        min_labels=int(raw.get("min_labels", defaults.min_labels)),
        guard_folds=int(raw.get("guard_folds", defaults.guard_folds)),
        guard_repeats=int(raw.get("guard_repeats", defaults.guard_repeats)),
        alpha=float(raw.get("alpha", defaults.alpha)),
        weight=float(raw.get("weight", defaults.weight)),
        seed=int(raw.get("seed", defaults.seed)),
        cascade=_cascade(raw.get("cascade") or {}),
        requests_key=str(raw.get("requests_key", defaults.requests_key)),
        request_ttl_s=int(raw.get("request_ttl_s", defaults.request_ttl_s)),
        max_requests=int(raw.get("max_requests", defaults.max_requests)),
        reask_window_s=int(raw.get("reask_window_s", defaults.reask_window_s)),
        reask_max_per_person=int(raw.get("reask_max_per_person", defaults.reask_max_per_person)),
        shadow_share=float(raw.get("shadow_share", defaults.shadow_share)),
        shadow_max_per_day=int(raw.get("shadow_max_per_day", defaults.shadow_max_per_day)),
        shadow_tier=str(raw.get("shadow_tier", defaults.shadow_tier)),
        shadow_key=str(raw.get("shadow_key", defaults.shadow_key)),
    )
    _check_traffic(cfg)
    if cfg.max_labels < 1 or cfg.refresh_s <= 0 or cfg.guard_folds < 2 or cfg.guard_repeats < 1 or cfg.alpha <= 0:
        raise ValueError("learning: max_labels >= 1, refresh_s > 0, guard_folds >= 2, guard_repeats >= 1, alpha > 0")
    if cfg.weight < 0:
        raise ValueError("learning: weight >= 0")
    return cfg


def _cascade(raw: dict[str, Any]) -> CascadeConfig:
    defaults = CascadeConfig()
    cfg = CascadeConfig(
        enabled=bool(raw.get("enabled", defaults.enabled)),
        local_model=str(raw.get("local_model", defaults.local_model)),
        statistic=str(raw.get("statistic", defaults.statistic)),
        quantile=float(raw.get("quantile", defaults.quantile)),
        threshold=float(raw.get("threshold", defaults.threshold)),
        escalate_share=float(raw.get("escalate_share", defaults.escalate_share)),
        window=int(raw.get("window", defaults.window)),
        min_samples=int(raw.get("min_samples", defaults.min_samples)),
        stream_prefix_tokens=int(raw.get("stream_prefix_tokens", defaults.stream_prefix_tokens)),
    )
    if cfg.statistic not in ("mean", "quantile") or not 0.0 <= cfg.quantile <= 1.0 or cfg.threshold > 0:
        raise ValueError("learning.cascade: statistic mean or quantile, quantile within 0..1, threshold <= 0")
    if not 0.0 <= cfg.escalate_share <= 1.0 or cfg.window < 1 or cfg.min_samples < 1 or cfg.stream_prefix_tokens < 1:
        raise ValueError("learning.cascade: escalate_share within 0..1, window, min_samples, stream_prefix_tokens >= 1")
    return cfg


def _check_traffic(cfg: LearningConfig) -> None:
    if cfg.request_ttl_s < 1 or cfg.max_requests < 1 or cfg.reask_window_s < 0 or cfg.reask_max_per_person < 1:
        raise ValueError(
            "learning: request_ttl_s >= 1, max_requests >= 1, reask_window_s >= 0, reask_max_per_person >= 1"
        )
    if not 0.0 <= cfg.shadow_share <= 1.0 or cfg.shadow_max_per_day < 0:
        raise ValueError("learning: shadow_share within 0..1, shadow_max_per_day >= 0")
    if cfg.shadow_tier not in TIERS or cfg.shadow_tier in ("local", "vision"):
        raise ValueError(f"learning.shadow_tier must be a strong tier (power, creative), not {cfg.shadow_tier!r}")


def _target(raw: dict[str, Any]) -> float:
    target = float(raw.get("sovereignty_target", 0.9))
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"sovereignty_target is a share of requests within 0..1, not {target}")
    return target


def _validate_patterns(cfg: RoutingConfig) -> None:
    for pattern in (*cfg.privacy.markers, *cfg.privacy.extra_token_patterns.values(), *cfg.privacy.health_terms):
        re.compile(pattern)
    for words in cfg.keywords.values():
        for word in words:
            re.compile(word)


def parse_config(raw: dict[str, Any], source: Path | None = None) -> RoutingConfig:
    explicit = raw.get("explicit") or {}
    health = raw.get("health") or {}
    context = raw.get("context") or {}
    cfg = RoutingConfig(
        tiers=_tiers(raw.get("tiers") or {}),
        virtual_model=str(raw.get("virtual_model", "max-auto")),
        model_tiers={str(k): str(v) for k, v in (raw.get("model_tiers") or {}).items()},
        explicit_header=str(explicit.get("header", "x-maximus-tier")).lower(),
        explicit_metadata_key=str(explicit.get("metadata_key", "tier")),
        privacy=_privacy(raw.get("privacy") or {}),
        budget=_budget(raw.get("budget") or {}),
        health=HealthConfig(
            source=str(health.get("source", "litellm+redis")),
            redis_key=str(health.get("redis_key", HealthConfig.redis_key)),
            refresh_s=float(health.get("refresh_s", 2)),
            skip_to=str(health.get("skip_to", "local")),
            timeout_s=float(health.get("timeout_s", HealthConfig.timeout_s)),
            litellm_refresh_s=float(health.get("litellm_refresh_s", HealthConfig.litellm_refresh_s)),
        ),
        context=ContextConfig(
            chars_per_token=float(context.get("chars_per_token", 4.0)),
            reserve_output_tokens=int(context.get("reserve_output_tokens", 1024)),
            max_reserve_output_tokens=int(
                context.get("max_reserve_output_tokens", ContextConfig.max_reserve_output_tokens)
            ),
            image_tokens=int(context.get("image_tokens", 800)),
        ),
        classifier=_classifier(raw.get("classifier") or {}),
        keywords={tier: tuple(words or ()) for tier, words in (raw.get("keywords") or {}).items()},
        need=_need(raw.get("need") or {}),
        sovereignty_target=_target(raw),
        online=_online(raw.get("sovereignty_online") or {}),
        source=source,
        endpoints=_endpoints(raw.get("endpoints") or {}),
        learning=_learning(raw.get("learning") or {}),
        shapes=parse_shape_settings(raw.get("shapes") or {}),
    )
    if cfg.health.skip_to not in TIERS:
        raise ValueError(f"health.skip_to must be one of {TIERS}")
    _validate_patterns(cfg)
    return cfg


def load_config(path: Path | str | None = None) -> RoutingConfig:
    source = Path(path) if path is not None else default_config_path()
    raw = yaml.safe_load(source.read_text(encoding="utf-8")) if source.is_file() else {}
    return parse_config(raw or {}, source if source.is_file() else None)


@lru_cache(maxsize=4)
def cached_config(path: str | None = None) -> RoutingConfig:
    return load_config(path)
