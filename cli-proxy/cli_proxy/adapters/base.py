"""What every CLI adapter provides, and helpers they share."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cli_proxy.config import Account, CliSettings
from cli_proxy.events import Event


@dataclass(frozen=True)
class Prompt:
    system: str | None
    text: str


@dataclass(frozen=True)
class RunPaths:
    cwd: Path  # a fresh, empty working directory for this request
    scratch: Path  # request-private files outside cwd (system prompt file, per-request homes)
    home: Path  # the CLI's state directory for this worker slot


@dataclass(frozen=True)
class Invocation:
    args: list[str]  # after the executable
    env: dict[str, str] = field(default_factory=dict)  # added to the child's environment


@dataclass(frozen=True)
class AuthState:
    authenticated: bool | None  # None: cannot tell without running the CLI
    detail: str


def json_line(line: str) -> dict[str, Any] | None:
    """A JSON object from one output line, or None for anything else (ignored, never fatal)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def write_private(path: Path, text: str) -> Path:
    """A new file only this user can read (0600): for system prompts, never put on a command line."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def link_into(source: Path, target: Path) -> None:
    """Make `target` a symlink to `source` (replacing an older link); nothing if the source is absent."""
    if not source.exists():
        return
    with contextlib.suppress(FileNotFoundError):
        if target.is_symlink() and os.readlink(target) == str(source):
            return
        if target.is_symlink() or not target.exists():
            target.unlink(missing_ok=True)
        else:
            return  # a real file the CLI wrote itself (e.g. refreshed tokens): keep it
    target.symlink_to(source)


def seconds_until_clock(hour: int, minute: int, half: str, now: dt.datetime) -> int | None:
    """Seconds until the next `hour:minute` (a 12-hour clock when `half` is am/pm) in the time zone of `now`:
    how the CLIs say when a usage limit resets ("Try again at 1:37 AM", "resets 5am")."""
    if half:
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    return max(1, math.ceil((target - now).total_seconds()))


class LineParser(ABC):
    """Turns one run's output lines into events; one instance per run."""

    @abstractmethod
    def feed(self, line: str) -> list[Event]: ...

    @abstractmethod
    def finish(self, returncode: int) -> list[Event]:
        """Events implied by the end of the output and the exit code (a failure, usually)."""


class CliAdapter(ABC):
    name: str
    login_hint: str  # the command or setting that fixes "not logged in"
    install_hint: str
    credential_env: str = ""  # the variable that holds a login without files (an account's env_from names it)
    shared_home: bool = False  # one state directory for all worker slots
    # The headless mode finishes its start-up, then waits for the prompt on stdin for as long as it takes, so a
    # process can be started before its request arrives (how each CLI was checked: docs/reference/cli-tools.md).
    warm_start: bool = False
    preflight_auth: bool = False  # run the auth probe before each request

    def __init__(self, settings: CliSettings, account: Account | None = None) -> None:
        """One adapter per account: its credentials come from the account's folder and variables."""
        self.account = account or Account("default", settings.credentials_from)
        self.settings = replace(settings, credentials_from=self.account.config_dir) if account else settings

    def passed_env(self, source: Mapping[str, str] | None = None) -> dict[str, str]:
        """The proxy's variables this CLI may see (its config's pass_env), plus the account's own, nothing else."""
        source = os.environ if source is None else source
        passed = {k: v for k, v in source.items() if self.settings.passes(k)}
        passed.update({name: source[src] for name, src in self.account.env_from.items() if source.get(src)})
        return passed

    def child_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The allowed part of the proxy's environment, the CLI's configured values, then the adapter's own."""
        return {**self.passed_env(), **self.settings.env, **extra}

    def state_root(self, state_dir: Path) -> Path:
        """This CLI's state; a declared account's under accounts/<name> (no two logins share a folder)."""
        root = state_dir / self.name
        return root / "accounts" / self.account.name if self.account.declared else root

    def home_dir(self, state_dir: Path, slot: int) -> Path:
        name = "home" if self.shared_home else f"worker-{slot}"
        return self.state_root(state_dir) / name

    def probe_home(self, state_dir: Path) -> Path:
        """Where readiness probes run: never a worker's directory, which a request may be using."""
        return self.home_dir(state_dir, 0) if self.shared_home else self.state_root(state_dir) / "probe"

    def prepare_home(self, home: Path) -> None:
        """Create the state directory and link the operator's credentials into it."""
        home.mkdir(parents=True, exist_ok=True, mode=0o700)

    @abstractmethod
    def prepare(self, model_flag: str | None, prompt: Prompt, paths: RunPaths) -> Invocation:
        """Write the request's files under paths.scratch and return the argv and environment."""

    @abstractmethod
    def parser(self) -> LineParser: ...

    def stdin_payload(self, prompt: Prompt) -> bytes:
        """What the process reads on stdin: the prompt text."""
        return prompt.text.encode()

    def version_args(self) -> list[str]:
        return ["--version"]

    def auth_probe(self, home: Path) -> Invocation | None:
        """A local command that tells whether the CLI is logged in, or None if there is none."""
        return None

    def auth_from_probe(self, returncode: int, stdout: str) -> AuthState:
        return AuthState(returncode == 0, "logged in" if returncode == 0 else "not logged in")

    def static_auth(self, env: Mapping[str, str]) -> AuthState:
        """What the environment alone says about the credentials."""
        return AuthState(None, "")
