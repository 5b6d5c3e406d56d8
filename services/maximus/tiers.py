"""What `maximus status` reports: each tier up, degraded or absent, with the reason and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from maximus.environment import run_dir
from maximus.litellm_config import enabled_cloud_groups
from maximus.probes import bearer, http_get, redis_ping
from maximus.stack import service

UP, DEGRADED, ABSENT = "up", "degraded", "absent"
HYBRID, PURE_SOVEREIGN, NO_TIER = "Hybrid", "Pure Sovereign", "No tier can answer"
# The tiers that answer a chat request; vision only describes images and videos.
CHAT_TIERS = ("local", "power", "creative", "cloud")


@dataclass(frozen=True)
class TierStatus:
    name: str
    state: str
    detail: str
    fix: str = ""
    accounts: list[dict[str, Any]] = field(default_factory=list)  # the CLI's logins: name, state, until, fix


def _see_logs() -> str:
    return f"run `maximus up`; see {run_dir() / 'logs'}"


def _strip_tag(name: str) -> str:
    return name.removesuffix(":latest")


def local_tier(env: Mapping[str, str]) -> TierStatus:
    base = env["OLLAMA_API_BASE"].rstrip("/")
    tags = http_get(f"{base}/api/tags")
    chat = [env.get("OLLAMA_CHAT_MODEL", "gemma3"), env.get("OLLAMA_REASONING_MODEL", "llama3.1")]
    embed = env.get("OLLAMA_EMBED_MODEL") or "embeddinggemma"  # max-embed: /v1/embeddings
    wanted = [*chat, embed]
    if not tags.ok:
        pulls = " && ".join(f"ollama pull {m}" for m in wanted)
        return TierStatus(
            "local",
            ABSENT,
            f"nothing answers at {base}",
            f"start Ollama (https://ollama.com/download), then `{pulls}`; or set OLLAMA_API_BASE",
        )
    present = {_strip_tag(m.get("name", "")) for m in tags.body.get("models", [])}
    missing = [m for m in wanted if _strip_tag(m) not in present]
    if all(m in missing for m in chat):  # no chat model: the local tier answers no chat request
        return TierStatus(
            "local",
            ABSENT,
            f"Ollama at {base} has none of {', '.join(chat)}",
            " && ".join(f"ollama pull {m}" for m in missing),
        )
    if missing:
        what = f"model {', '.join(missing)} not pulled"
        return TierStatus(
            "local",
            DEGRADED,
            what + (" (no local embeddings: /v1/embeddings answers 503)" if embed in missing else ""),
            " && ".join(f"ollama pull {m}" for m in missing),
        )
    return TierStatus("local", UP, f"Ollama at {base}: {', '.join(wanted)}")


def _cli_of(model: str, env: Mapping[str, str]) -> str | None:
    """Which CLI serves `model`, from the CLI proxy's model map."""
    from cli_proxy.config import load_settings

    try:
        entry = load_settings(env).models.get(model)
    except (OSError, ValueError, KeyError):
        return None
    return entry.cli if entry else None


def _cli_fixes(readiness: Any, cli: str | None) -> list[str]:
    """The fixes the CLI proxy's /readyz gives for the CLI behind the model (every CLI when that is unknown)."""
    clis = readiness.get("clis", {}) if isinstance(readiness, dict) else {}
    return [
        f"{name}: {info.get('fix')}"
        for name, info in clis.items()
        if isinstance(info, dict) and info.get("state") != "ready" and info.get("fix") and cli in {None, name}
    ]


def _accounts(readiness: Any, cli: str | None) -> list[dict[str, Any]]:
    """The CLI proxy's account rows for the CLI behind the model (names and states, never credentials)."""
    accounts = readiness.get("accounts", {}) if isinstance(readiness, dict) else {}
    rows = accounts.get(cli) if cli and isinstance(accounts, dict) else None
    return [r for r in rows or [] if isinstance(r, dict)]


def _account_word(row: dict[str, Any]) -> str:
    state = row.get("state")
    if state == "exhausted":
        return f"{row.get('name')} used up until {row.get('until')}"
    return f"{row.get('name')} {'login expired' if state == 'login_expired' else state}"


def _with_accounts(tier: TierStatus, rows: list[dict[str, Any]]) -> TierStatus:
    """An answering tier with its accounts: degraded, with the fixes, when a login expired or all are used up."""
    if not rows or (len(rows) == 1 and rows[0].get("state") == "active"):
        return TierStatus(tier.name, tier.state, tier.detail, tier.fix, rows)
    detail = f"{tier.detail}; accounts: {', '.join(_account_word(r) for r in rows)}"
    fixes = [str(r["fix"]) for r in rows if r.get("state") == "login_expired" and r.get("fix")]
    if not any(r.get("state") == "active" for r in rows) and any(r.get("state") == "exhausted" for r in rows):
        fixes.append("wait for the first reset, or add an account (cli-proxy/README.md)")
    return TierStatus(tier.name, DEGRADED if fixes else tier.state, detail, "; ".join(fixes), rows)


def cli_tier(name: str, model: str, env: Mapping[str, str]) -> TierStatus:
    base = env["CLI_PROXY_API_BASE"].rstrip("/")
    headers = bearer(env.get("CLI_PROXY_API_KEY"))
    models = http_get(f"{base}/models", headers)
    if not models.ok:
        reason = models.error or f"status {models.status}"
        return TierStatus(name, ABSENT, f"no CLI proxy at {base} ({reason})", _see_logs())
    served = {m.get("id") for m in models.body.get("data", [])}
    cli = _cli_of(model, env)
    readiness = http_get(f"{base.removesuffix('/v1')}/readyz", headers).body
    if model in served:
        return _with_accounts(TierStatus(name, UP, f"{model} through the CLI proxy"), _accounts(readiness, cli))
    rows = _accounts(readiness, cli)
    logged_out = [str(r["fix"]) for r in rows if len(rows) > 1 and r.get("state") == "login_expired" and r.get("fix")]
    fixes = logged_out or _cli_fixes(readiness, cli)
    return TierStatus(
        name,
        ABSENT,
        f"no CLI logged in for {model}" + (f" ({cli})" if cli else ""),
        "; ".join(fixes) or "run `claude setup-token` (or set GEMINI_API_KEY / `codex login`)",
    )


def vision_tier(env: Mapping[str, str]) -> TierStatus:
    base = env["VISION_API_BASE"].rstrip("/").removesuffix("/v1")
    ready = http_get(f"{base}/readyz")
    if ready.status is None:
        return TierStatus("vision", ABSENT, f"no vision service at {base}", _see_logs())
    body = ready.body if isinstance(ready.body, dict) else {}
    if ready.ok:
        return TierStatus("vision", UP, f"{body.get('model', 'V-JEPA 2')} on {body.get('device', '?')}")
    return TierStatus(
        "vision",
        DEGRADED,
        str(body.get("error") or body.get("reason") or "not ready"),
        str(body.get("fix") or "maximus vision fetch-model facebook/vjepa2-vitl-fpc16-256-ssv2"),
    )


def cloud_tier(env: Mapping[str, str]) -> TierStatus:
    groups = enabled_cloud_groups(env)
    if groups:
        return TierStatus("cloud", UP, f"emergency fallback: {', '.join(groups)}")
    return TierStatus(
        "cloud",
        ABSENT,
        "no cloud API key (optional)",
        "set ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_CLOUD_API_KEY in .env to allow an emergency fallback",
    )


def tiers(env: Mapping[str, str]) -> list[TierStatus]:
    return [
        local_tier(env),
        cli_tier("power", env.get("POWER_MODEL", "claude-sonnet"), env),
        cli_tier("creative", env.get("CREATIVE_MODEL", "claude-opus"), env),
        vision_tier(env),
        cloud_tier(env),
    ]


def service_up(name: str, env: Mapping[str, str]) -> bool:
    """The service answers its health probe where the environment says it is."""
    spec = service(name)
    host, port = spec.address(env)
    if spec.health.get("redis"):
        return redis_ping(port, host)
    return http_get(f"http://{host}:{port}{spec.health['http']}").status == 200


def mode(tier_states: list[TierStatus]) -> str:
    """Hybrid when a non-local tier answers, Pure Sovereign when only the local one does (a degraded local tier
    still answers with the model it has), and No tier can answer otherwise."""
    answering = {t.name for t in tier_states if t.name in CHAT_TIERS and t.state != ABSENT}
    if answering - {"local"}:
        return HYBRID
    return PURE_SOVEREIGN if answering else NO_TIER


def first_fix(tier_states: list[TierStatus]) -> str:
    """What to do first when no tier answers: the local tier's fix (it needs no account or key), then the rest."""
    candidates = sorted((t for t in tier_states if t.name in CHAT_TIERS and t.fix), key=lambda t: t.name != "local")
    return next((f"fix the {t.name} tier first: {t.fix}" for t in candidates), "")


def as_dict(tier: TierStatus) -> dict[str, Any]:
    return asdict(tier)
