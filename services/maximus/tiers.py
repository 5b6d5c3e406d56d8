"""What `maximus status` reports: each tier up, degraded or absent, with the reason and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from maximus.probes import bearer, http_get, redis_ping
from maximus.stack import service

UP, DEGRADED, ABSENT = "up", "degraded", "absent"
CLOUD_KEYS = {"ANTHROPIC_API_KEY": "Anthropic", "OPENAI_API_KEY": "OpenAI", "GEMINI_API_KEY": "Gemini"}


@dataclass(frozen=True)
class TierStatus:
    name: str
    state: str
    detail: str
    fix: str = ""


def _strip_tag(name: str) -> str:
    return name.removesuffix(":latest")


def local_tier(env: Mapping[str, str]) -> TierStatus:
    base = env["OLLAMA_API_BASE"].rstrip("/")
    tags = http_get(f"{base}/api/tags")
    if not tags.ok:
        return TierStatus("local", ABSENT, f"no Ollama at {base}", "install Ollama or set OLLAMA_API_BASE")
    present = {_strip_tag(m.get("name", "")) for m in tags.body.get("models", [])}
    wanted = [env.get("OLLAMA_CHAT_MODEL", "gemma3"), env.get("OLLAMA_REASONING_MODEL", "llama3.1")]
    missing = [m for m in wanted if _strip_tag(m) not in present]
    if len(missing) == len(wanted):
        return TierStatus("local", ABSENT, f"Ollama at {base} has none of {', '.join(wanted)}",
                          " && ".join(f"ollama pull {m}" for m in missing))
    if missing:
        return TierStatus("local", DEGRADED, f"model {', '.join(missing)} not pulled",
                          " && ".join(f"ollama pull {m}" for m in missing))
    return TierStatus("local", UP, f"Ollama at {base}: {', '.join(wanted)}")


def _cli_fixes(readiness: Any) -> list[str]:
    """The fixes the CLI proxy's /readyz gives for each CLI that is not ready."""
    clis = readiness.get("clis", {}) if isinstance(readiness, dict) else {}
    return [f"{name}: {info.get('fix')}" for name, info in clis.items()
            if isinstance(info, dict) and info.get("state") != "ready" and info.get("fix")]


def cli_tier(name: str, model: str, env: Mapping[str, str]) -> TierStatus:
    base = env["CLI_PROXY_API_BASE"].rstrip("/")
    headers = bearer(env.get("CLI_PROXY_API_KEY"))
    models = http_get(f"{base}/models", headers)
    if not models.ok:
        reason = models.error or f"status {models.status}"
        return TierStatus(name, ABSENT, f"no CLI proxy at {base} ({reason})", "run `maximus up`; see .run/logs")
    served = {m.get("id") for m in models.body.get("data", [])}
    if model in served:
        return TierStatus(name, UP, f"{model} through the CLI proxy")
    readiness = http_get(f"{base.removesuffix('/v1')}/readyz", headers).body
    fixes = _cli_fixes(readiness)
    return TierStatus(name, ABSENT, f"no CLI logged in for {model}",
                      "; ".join(fixes) or "run `claude setup-token` (or set GEMINI_API_KEY / `codex login`)")


def vision_tier(env: Mapping[str, str]) -> TierStatus:
    base = env["VISION_API_BASE"].rstrip("/").removesuffix("/v1")
    ready = http_get(f"{base}/readyz")
    if ready.status is None:
        return TierStatus("vision", ABSENT, f"no vision service at {base}", "run `maximus up`; see .run/logs")
    body = ready.body if isinstance(ready.body, dict) else {}
    if ready.ok:
        return TierStatus("vision", UP, f"{body.get('model', 'V-JEPA 2')} on {body.get('device', '?')}")
    return TierStatus("vision", DEGRADED, str(body.get("error") or body.get("reason") or "not ready"),
                      str(body.get("fix") or "maximus vision fetch-model facebook/vjepa2-vitl-fpc16-256-ssv2"))


def cloud_tier(env: Mapping[str, str]) -> TierStatus:
    providers = [label for key, label in CLOUD_KEYS.items() if env.get(key)]
    if providers:
        return TierStatus("cloud", UP, f"emergency fallback: {', '.join(providers)}")
    return TierStatus("cloud", ABSENT, "no cloud API key (optional)", "set ANTHROPIC_API_KEY, OPENAI_API_KEY or "
                      "GEMINI_API_KEY in .env to allow an emergency fallback")


def tiers(env: Mapping[str, str]) -> list[TierStatus]:
    return [
        local_tier(env),
        cli_tier("power", env.get("POWER_MODEL", "claude-sonnet"), env),
        cli_tier("creative", env.get("CREATIVE_MODEL", "claude-opus"), env),
        vision_tier(env),
        cloud_tier(env),
    ]


def service_up(name: str, env: Mapping[str, str]) -> bool:
    spec = service(name)
    port = spec.port(env)
    if spec.health.get("redis"):
        return redis_ping(port)
    return http_get(f"http://127.0.0.1:{port}{spec.health['http']}").status == 200


def mode(tier_states: list[TierStatus]) -> str:
    non_local = {"power", "creative", "cloud"}
    return "Hybrid" if any(t.name in non_local and t.state == UP for t in tier_states) else "Pure Sovereign"


def as_dict(tier: TierStatus) -> dict[str, Any]:
    return asdict(tier)
