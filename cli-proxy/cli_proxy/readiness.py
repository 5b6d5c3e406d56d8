"""Per CLI: installed? which version? logged in? Checked at start and periodically; shown on /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cli_proxy.adapters.base import CliAdapter
from cli_proxy.config import Settings
from cli_proxy.runner import run_capture
from maximus_kernel.exception_text import describe

log = logging.getLogger("cli_proxy")


@dataclass
class CliStatus:
    state: str  # ready | not_installed | not_authenticated | probe_timeout | broken | unknown
    installed: bool = False
    path: str | None = None
    version: str | None = None
    authenticated: bool | None = None
    detail: str = ""
    fix: str | None = None
    checked_at: float = 0.0

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def locate(executable: str, dirs: list[Path]) -> Path | None:
    """The CLI's executable: an absolute path, or the first match in `dirs`."""
    if os.path.isabs(executable):
        path = Path(executable)
        return path if os.access(path, os.X_OK) and path.is_file() else None
    for folder in dirs:
        candidate = folder / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


AccountProbed = Callable[[str, str, bool | None, float], None]  # (cli, account, authenticated, probe started at)


class Readiness:
    def __init__(
        self,
        settings: Settings,
        adapters: Mapping[str, CliAdapter],
        accounts: Mapping[str, Sequence[CliAdapter]] | None = None,
        on_account: AccountProbed | None = None,
    ) -> None:
        self.settings = settings
        self.adapters = adapters
        self.accounts = accounts or {name: [adapter] for name, adapter in adapters.items()}  # per CLI, in order
        self.on_account = on_account
        self.status: dict[str, CliStatus] = {name: CliStatus("unknown", detail="not checked yet") for name in adapters}

    def executable(self, name: str) -> Path | None:
        return locate(self.adapters[name].settings.executable, self.settings.lookup_path())

    async def check_auth(self, adapter: CliAdapter, path: Path, home: Path) -> tuple[bool | None, str]:
        """(authenticated, detail); None when the probe did not answer in time."""
        static = adapter.static_auth(adapter.passed_env())
        if static.authenticated is not None or (probe := adapter.auth_probe(home)) is None:
            return static.authenticated, static.detail
        with tempfile.TemporaryDirectory(prefix="cli-proxy-probe-") as cwd:
            code, out, _ = await run_capture(
                [str(path), *probe.args], adapter.child_env(probe.env), Path(cwd), self.settings.probe_timeout_s
            )
        if code is None:
            return (
                None,
                f"`{adapter.name} {' '.join(probe.args)}` did not answer within {self.settings.probe_timeout_s:g}s",
            )
        state = adapter.auth_from_probe(code, out)
        return state.authenticated, state.detail

    async def check(self, name: str) -> CliStatus:
        adapter = self.adapters[name]
        path = self.executable(name)
        now = time.time()
        if path is None:
            status = CliStatus(
                "not_installed",
                detail=f"'{adapter.settings.executable}' not found",
                fix=adapter.install_hint,
                checked_at=now,
            )
        else:
            status = await self._probe(adapter, path, now)
        self.status[name] = status
        return status

    async def _probe(self, adapter: CliAdapter, path: Path, now: float) -> CliStatus:
        timeout = self.settings.probe_timeout_s
        with tempfile.TemporaryDirectory(prefix="cli-proxy-probe-") as cwd:
            code, out, err = await run_capture(
                [str(path), *adapter.version_args()], adapter.child_env({}), Path(cwd), timeout
            )
        base = {"installed": True, "path": str(path), "checked_at": now}
        if code is None:
            return CliStatus(
                "probe_timeout",
                **base,
                detail=f"`{path.name} --version` did not answer within {timeout:g}s",
                fix=f"check that `{path} --version` runs",
            )
        if code != 0:
            return CliStatus(
                "broken",
                **base,
                detail=f"`{path.name} --version` exited with {code}: {(err or out).strip()[-300:]}",
                fix=adapter.install_hint,
            )
        version = (out.strip().splitlines() or [""])[0]
        authenticated, detail = await self._any_account(adapter.name, path)
        if authenticated is None:
            return CliStatus("probe_timeout", **base, version=version, detail=detail, fix=adapter.login_hint)
        if not authenticated:
            return CliStatus(
                "not_authenticated", **base, version=version, authenticated=False, detail=detail, fix=adapter.login_hint
            )
        return CliStatus("ready", **base, version=version, authenticated=True, detail=detail)

    async def _any_account(self, name: str, path: Path) -> tuple[bool | None, str]:
        """Each account's login in turn (each is told to its pool); the CLI is logged in when one of them is."""
        results = []
        for adapter in self.accounts[name]:
            home = adapter.probe_home(self.settings.state_dir)
            adapter.prepare_home(home)
            started = time.time()
            authenticated, detail = await self.check_auth(adapter, path, home)
            if self.on_account:
                self.on_account(name, adapter.account.name, authenticated, started)
            results.append((authenticated, detail))
        for wanted in (True, None):
            if found := next((r for r in results if r[0] is wanted), None):
                return found
        return results[0]

    async def check_all(self) -> None:
        results = await asyncio.gather(*(self.check(name) for name in self.adapters), return_exceptions=True)
        for name, result in zip(self.adapters, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("readiness check of %s failed: %s", name, describe(result))
                self.status[name] = CliStatus(
                    "broken", detail=f"check failed: {type(result).__name__}", checked_at=time.time()
                )

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.check_all()
            await asyncio.sleep(self.settings.recheck_interval_s)

    def note_outcome(self, name: str, authenticated: bool) -> None:
        """What a real request just learned about the credentials (never blocks later requests)."""
        status = self.status.get(name)
        if status is None or status.state == "not_installed":
            return
        adapter = self.adapters[name]
        if authenticated:
            status.state, status.authenticated, status.fix = "ready", True, None
            status.detail = "answered a request"
        else:
            status.state, status.authenticated, status.fix = "not_authenticated", False, adapter.login_hint
            status.detail = "the last request was refused as not logged in"
        status.checked_at = time.time()

    def ready_models(self) -> list[str]:
        return [m.id for m in self.settings.models.values() if self.status.get(m.cli, CliStatus("x")).ready]

    def report(self) -> dict[str, Any]:
        clis = {name: {k: v for k, v in asdict(s).items()} for name, s in self.status.items()}
        models = self.ready_models()
        return {"ready": bool(models), "clis": clis, "models": models}
