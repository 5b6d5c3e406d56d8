"""Settings: the model map, per-CLI limits and timeouts (YAML), and the environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
PROXY_DIR = PACKAGE_DIR.parent
DEFAULT_CONFIG = PACKAGE_DIR / "models.yaml"
KNOWN_CLIS = ("claude", "gemini", "codex")

_TIMEOUT_KEYS = (
    "queue_timeout_s",
    "first_byte_timeout_s",
    "idle_timeout_s",
    "total_timeout_s",
    "kill_grace_s",
    "keepalive_interval_s",
    "stream_commit_s",
)


class ConfigError(ValueError):
    """The configuration file is missing something or holds a wrong value."""


# Never handed to a CLI, even when listed: the proxy's own key and settings.
PRIVATE_ENV_PREFIX = "CLI_PROXY_"


def env_matches(name: str, patterns: tuple[str, ...]) -> bool:
    """`name` is one of the patterns: an exact variable name, or a prefix ending in `*` (`LC_*`)."""
    if name.startswith(PRIVATE_ENV_PREFIX):
        return False
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


@dataclass(frozen=True)
class Timeouts:
    queue_timeout_s: float = 30.0
    first_byte_timeout_s: float = 120.0
    idle_timeout_s: float = 90.0
    total_timeout_s: float = 900.0
    kill_grace_s: float = 2.0
    keepalive_interval_s: float = 10.0
    stream_commit_s: float = 15.0


@dataclass(frozen=True)
class WarmPool:
    """Pre-started processes per model and argument set, waiting on stdin (CLIs that can wait: see adapters)."""

    size: int = 0  # processes kept waiting per model and argument set; 0: every request starts its CLI cold
    idle_lifetime_s: float = 300.0  # a waiting process older than this is stopped (not replaced until used)


@dataclass(frozen=True)
class CliSettings:
    name: str
    executable: str
    concurrency: int
    timeouts: Timeouts
    warm: WarmPool = field(default_factory=WarmPool)
    credentials_from: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # set for the CLI, whatever the proxy's environment
    pass_env: tuple[str, ...] = ()  # the proxy's variables the CLI may see (names or `PREFIX*`)

    def passes(self, name: str) -> bool:
        return env_matches(name, self.pass_env)


@dataclass(frozen=True)
class ModelEntry:
    id: str
    cli: str
    model_flag: str | None


@dataclass(frozen=True)
class Settings:
    clis: Mapping[str, CliSettings]
    models: Mapping[str, ModelEntry]
    search_path: tuple[Path, ...]
    use_system_path: bool
    state_dir: Path
    probe_timeout_s: float = 20.0
    recheck_interval_s: float = 300.0
    log_content: bool = False
    refused_params: Mapping[str, str] = field(default_factory=dict)  # request parameter -> why a CLI cannot

    def lookup_path(self) -> list[Path]:
        """Directories searched for the CLI executables, in order."""
        dirs = list(self.search_path)
        if self.use_system_path:
            dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        return dirs


def _number(raw: Any, key: str, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise ConfigError(f"{where}.{key} must be a positive number, got {raw!r}")
    return float(raw)


def _timeouts(merged: Mapping[str, Any], where: str) -> Timeouts:
    values = {key: _number(merged[key], key, where) for key in _TIMEOUT_KEYS if key in merged}
    return Timeouts(**values)


def _warm_pool(merged: Mapping[str, Any], where: str) -> WarmPool:
    raw = merged.get("warm_pool") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.warm_pool must be a mapping (size, idle_lifetime_s), got {raw!r}")
    size = raw.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 8:
        raise ConfigError(f"{where}.warm_pool.size must be an integer from 0 to 8, got {size!r}")
    lifetime = _number(raw.get("idle_lifetime_s", 300), "idle_lifetime_s", f"{where}.warm_pool")
    return WarmPool(size, lifetime)


def _names(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(n, str) and n for n in raw):
        raise ConfigError(f"{where} must be a list of environment variable names, got {raw!r}")
    return tuple(raw)


def _packaged() -> Mapping[str, Any]:
    """The packaged models.yaml: where a custom config leaves out pass_env or refused_params."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text()) or {}


def _listed(data: Mapping[str, Any], key: str, packaged: Mapping[str, Any]) -> Any:
    return data[key] if key in data else packaged.get(key)


def _pass_env(
    name: str, raw: Mapping[str, Any], base: tuple[str, ...], packaged: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[str, ...]:
    """The base list, the CLI's own, and CLI_PROXY_<CLI>_ENV (comma-separated, e.g. ANTHROPIC_API_KEY)."""
    own = raw["pass_env"] if "pass_env" in raw else ((packaged.get("clis") or {}).get(name) or {}).get("pass_env")
    extra = [n.strip() for n in env.get(f"CLI_PROXY_{name.upper()}_ENV", "").split(",") if n.strip()]
    return tuple(dict.fromkeys([*base, *_names(own, f"clis.{name}.pass_env"), *extra]))


def _cli_settings(
    name: str,
    raw: Mapping[str, Any],
    defaults: Mapping[str, Any],
    env: Mapping[str, str],
    base_env: tuple[str, ...],
    packaged: Mapping[str, Any],
) -> CliSettings:
    if name not in KNOWN_CLIS:
        raise ConfigError(f"clis.{name}: unknown CLI (known: {', '.join(KNOWN_CLIS)})")
    raw = raw or {}
    merged = {**defaults, **raw}
    concurrency = merged.get("concurrency", 2)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"clis.{name}.concurrency must be an integer >= 1, got {concurrency!r}")
    # Where the operator's logins are mounted, e.g. CLI_PROXY_CLAUDE_CREDENTIALS_FROM=/home/maximus/.claude-host
    creds = env.get(f"CLI_PROXY_{name.upper()}_CREDENTIALS_FROM") or merged.get("credentials_from")
    cli_env = {str(k): str(v) for k, v in (merged.get("env") or {}).items()}
    return CliSettings(
        name=name,
        executable=str(merged.get("executable", name)),
        concurrency=concurrency,
        timeouts=_timeouts(merged, f"clis.{name}"),
        warm=_warm_pool(merged, f"clis.{name}"),
        credentials_from=Path(os.path.expanduser(str(creds))) if creds else None,
        env=cli_env,
        pass_env=_pass_env(name, raw, base_env, packaged, env),
    )


def _models(raw: Mapping[str, Any], clis: Mapping[str, CliSettings]) -> dict[str, ModelEntry]:
    models = {}
    for model_id, entry in (raw or {}).items():
        if not isinstance(entry, Mapping) or entry.get("cli") not in clis:
            raise ConfigError(f"models.{model_id}: 'cli' must be one of {sorted(clis)}")
        flag = entry.get("model")
        models[str(model_id)] = ModelEntry(str(model_id), entry["cli"], None if flag is None else str(flag))
    if not models:
        raise ConfigError("models: the model map is empty")
    return models


def _search_path(raw: list[Any], env: Mapping[str, str]) -> tuple[Path, ...]:
    override = env.get("CLI_PROXY_SEARCH_PATH")
    entries = override.split(os.pathsep) if override is not None else [str(p) for p in raw or []]
    return tuple(
        Path(os.path.expanduser(p)) if os.path.isabs(os.path.expanduser(p)) else PROXY_DIR / p for p in entries if p
    )


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "maximus" / "cli-proxy"


def parse_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    defaults = data.get("defaults") or {}
    packaged = _packaged()
    base_env = _names(_listed(data, "pass_env", packaged), "pass_env")
    clis = {
        name: _cli_settings(name, raw, defaults, env, base_env, packaged)
        for name, raw in (data.get("clis") or {}).items()
    }
    state = env.get("CLI_PROXY_STATE_DIR") or data.get("state_dir")
    return Settings(
        clis=clis,
        models=_models(data.get("models") or {}, clis),
        search_path=_search_path(data.get("search_path") or [], env),
        use_system_path=bool(data.get("use_system_path", True)),
        state_dir=Path(os.path.expanduser(str(state))) if state else _default_state_dir(),
        probe_timeout_s=_number(data.get("probe_timeout_s", 20), "probe_timeout_s", "config"),
        recheck_interval_s=_number(data.get("recheck_interval_s", 300), "recheck_interval_s", "config"),
        log_content=env.get("CLI_PROXY_LOG_CONTENT", "") in {"1", "true", "yes"},
        refused_params=_refused(_listed(data, "refused_params", packaged)),
    )


def _refused(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"refused_params must map a parameter name to the reason, got {raw!r}")
    return {str(k): str(v) for k, v in raw.items()}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML named by CLI_PROXY_CONFIG (default: the packaged models.yaml)."""
    env = os.environ if env is None else env
    path = Path(env.get("CLI_PROXY_CONFIG") or DEFAULT_CONFIG)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_settings(data, env)
