"""Settings: the model map, per-CLI limits and timeouts (YAML), and the environment overrides."""

from __future__ import annotations

import os
import re
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
class Account:
    """One login of a CLI: its own config directory (and, optionally, its own credential variables)."""

    name: str
    config_dir: Path | None  # where this login's credential files are (the CLI's credentials_from)
    env_from: Mapping[str, str] = field(default_factory=dict)  # the CLI's variable -> the proxy's that holds it
    declared: bool = False  # False: the one implicit account of a CLI without an accounts list


@dataclass(frozen=True)
class Signal:
    """A failure text that says something about the account (a usage limit, an expired login)."""

    pattern: re.Pattern[str]
    source: str  # where the text was seen: the CLI's docs, an issue


@dataclass(frozen=True)
class Rotation:
    """How accounts of one CLI take turns: fill-first, skipped while used up or logged out."""

    backoff_first_s: float = 60.0  # a usage limit without a reset time: skipped this long, then longer
    backoff_factor: float = 2.0
    backoff_max_s: float = 18000.0
    sticky_conversations: int = 4096  # conversations whose account is remembered
    usage_limit: Mapping[str, tuple[Signal, ...]] = field(default_factory=dict)  # per CLI
    login_expired: Mapping[str, tuple[Signal, ...]] = field(default_factory=dict)
    login_fix: Mapping[str, str] = field(default_factory=dict)  # per CLI, with {config_dir} and {env}


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
    accounts: tuple[Account, ...] = ()  # in fill-first order; one implicit account when none is declared

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
    rotation: Rotation = field(default_factory=Rotation)

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
    name: str,
    raw: Mapping[str, Any],
    base: tuple[str, ...],
    packaged: Mapping[str, Any],
    env: Mapping[str, str],
    own_credentials: bool = True,
) -> tuple[str, ...]:
    """The base list, the CLI's own, and CLI_PROXY_<CLI>_ENV (comma-separated, e.g. ANTHROPIC_API_KEY).
    With declared accounts the CLI's own list (its credential variables) is left out: one CLAUDE_CODE_OAUTH_TOKEN
    for every account would make them all the same login; each account names its own in env_from."""
    own = raw["pass_env"] if "pass_env" in raw else ((packaged.get("clis") or {}).get(name) or {}).get("pass_env")
    own = own if own_credentials else None
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
    credentials_from = Path(os.path.expanduser(str(creds))) if creds else None
    accounts = _accounts(name, raw.get("accounts"), env) or (Account("default", credentials_from),)
    return CliSettings(
        name=name,
        executable=str(merged.get("executable", name)),
        concurrency=concurrency,
        timeouts=_timeouts(merged, f"clis.{name}"),
        warm=_warm_pool(merged, f"clis.{name}"),
        credentials_from=accounts[0].config_dir,
        env=cli_env,
        pass_env=_pass_env(name, raw, base_env, packaged, env, own_credentials=not accounts[0].declared),
        accounts=accounts,
    )


_ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MAX_ACCOUNTS = 16


def _account(raw: Any, where: str) -> Account:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{where} must be a mapping with a name and a config_dir, got {raw!r}")
    name, folder, env_from = raw["name"], raw.get("config_dir"), raw.get("env_from") or {}
    if not _ACCOUNT_NAME.match(name):
        raise ConfigError(f"{where}.name must be 1-32 of a-z, 0-9, '-', '_' (a metrics label), got {name!r}")
    if folder is None and not env_from:
        raise ConfigError(f"{where}: an account needs a config_dir or env_from (where its login is)")
    if not isinstance(env_from, Mapping) or not all(isinstance(v, str) and v for v in env_from.values()):
        raise ConfigError(f"{where}.env_from must map the CLI's variable to a variable name, got {env_from!r}")
    config_dir = Path(os.path.expanduser(str(folder))) if folder else None
    return Account(name, config_dir, {str(k): str(v) for k, v in env_from.items()}, declared=True)


def _accounts_from_env(text: str) -> list[dict[str, str]]:
    """CLI_PROXY_<CLI>_ACCOUNTS=work:~/.claude-work,home:~/.claude-home"""
    entries = []
    for item in (part.strip() for part in text.split(",")):
        name, sep, folder = item.partition(":")
        if not sep or not folder.strip():
            raise ConfigError(f"account {item!r}: write NAME:CONFIG_DIR, comma-separated")
        entries.append({"name": name.strip(), "config_dir": folder.strip()})
    return entries


def _accounts(cli: str, raw: Any, env: Mapping[str, str]) -> tuple[Account, ...]:
    """The declared accounts: CLI_PROXY_<CLI>_ACCOUNTS, else clis.<cli>.accounts; () when none."""
    variable = f"CLI_PROXY_{cli.upper()}_ACCOUNTS"
    where = variable if env.get(variable) else f"clis.{cli}.accounts"
    entries = _accounts_from_env(env[variable]) if env.get(variable) else raw
    if entries is None:
        return ()
    if not isinstance(entries, list) or not entries or len(entries) > _MAX_ACCOUNTS:
        raise ConfigError(f"{where} must list 1 to {_MAX_ACCOUNTS} accounts, got {entries!r}")
    accounts = tuple(_account(entry, f"{where}[{i}]") for i, entry in enumerate(entries))
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: account names must be unique, got {names}")
    return accounts


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
        rotation=_rotation(_listed(data, "rotation", packaged) or {}),
    )


def _signals(raw: Any, where: str) -> dict[str, tuple[Signal, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must map a CLI to a list of {{pattern, source}}, got {raw!r}")
    signals: dict[str, tuple[Signal, ...]] = {}
    for cli, entries in raw.items():
        if not isinstance(entries, list):
            raise ConfigError(f"{where}.{cli} must be a list of {{pattern, source}}, got {entries!r}")
        items = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not entry.get("pattern") or not entry.get("source"):
                raise ConfigError(f"{where}.{cli}[{i}] needs a pattern and its source, got {entry!r}")
            try:
                items.append(Signal(re.compile(str(entry["pattern"]), re.IGNORECASE), str(entry["source"])))
            except re.error as exc:
                raise ConfigError(f"{where}.{cli}[{i}].pattern is not a valid regular expression: {exc}") from exc
        signals[str(cli)] = tuple(items)
    return signals


def _rotation(raw: Mapping[str, Any]) -> Rotation:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"rotation must be a mapping, got {raw!r}")
    backoff = raw.get("backoff") or {}
    if not isinstance(backoff, Mapping):
        raise ConfigError(f"rotation.backoff must be a mapping (first_s, factor, max_s), got {backoff!r}")
    sticky = raw.get("sticky_conversations", 4096)
    if isinstance(sticky, bool) or not isinstance(sticky, int) or sticky < 0:
        raise ConfigError(f"rotation.sticky_conversations must be an integer >= 0, got {sticky!r}")
    return Rotation(
        backoff_first_s=_number(backoff.get("first_s", 60), "first_s", "rotation.backoff"),
        backoff_factor=_number(backoff.get("factor", 2), "factor", "rotation.backoff"),
        backoff_max_s=_number(backoff.get("max_s", 18000), "max_s", "rotation.backoff"),
        sticky_conversations=sticky,
        usage_limit=_signals(raw.get("usage_limit") or {}, "rotation.usage_limit"),
        login_expired=_signals(raw.get("login_expired") or {}, "rotation.login_expired"),
        login_fix={str(k): str(v) for k, v in (raw.get("login_fix") or {}).items()},
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
