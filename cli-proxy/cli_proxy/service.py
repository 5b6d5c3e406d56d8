"""One chat request through a CLI: model lookup, a worker slot, a temporary directory, the process, cleanup."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from pathlib import Path

from cli_proxy.accounts import STATES, AccountPool, AccountState
from cli_proxy.adapters import ADAPTERS, CliAdapter, Prompt, RunPaths
from cli_proxy.config import ModelEntry, Settings
from cli_proxy.events import Event, Failure, FailureKind, Finished, TextDelta
from cli_proxy.metrics import Metrics
from cli_proxy.readiness import Readiness
from cli_proxy.runner import CliRun, RunLimits, run_capture
from cli_proxy.warm import PoolKey, WarmPools, WarmWorker
from maximus_kernel.openai_errors import OpenAIError

log = logging.getLogger("cli_proxy")


class SlotPool:
    """At most `size` processes of one CLI; each holds a slot number (its worker state directory)."""

    def __init__(self, size: int) -> None:
        self._free: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(size):
            self._free.put_nowait(slot)

    async def acquire(self, timeout_s: float) -> int | None:
        try:
            return await asyncio.wait_for(self._free.get(), timeout_s)
        except TimeoutError:
            return None

    def release(self, slot: int) -> None:
        self._free.put_nowait(slot)


@dataclass(frozen=True)
class Target:
    entry: ModelEntry
    adapter: CliAdapter
    executable: Path


class CliProxy:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        # One adapter per account (its credentials); a CLI's first account's stands for the CLI (readiness).
        self.account_adapters = {
            (name, account.name): ADAPTERS[name](cli, account)
            for name, cli in settings.clis.items()
            for account in cli.accounts
        }
        first = {name: cli.accounts[0].name for name, cli in settings.clis.items()}
        self.adapters = {name: self.account_adapters[(name, account)] for name, account in first.items()}
        self.accounts = {name: self._account_pool(name) for name in settings.clis}
        self.pools = {name: SlotPool(cli.concurrency) for name, cli in settings.clis.items()}
        per_cli = {
            name: [self.account_adapters[(name, a.name)] for a in cli.accounts] for name, cli in settings.clis.items()
        }
        self.readiness = Readiness(settings, self.adapters, per_cli, self._account_probed)
        self.live: set[CliRun] = set()
        self.on_spawn: Callable[[str, int], None] | None = None  # for tests and benchmarks
        self._warm_targets: dict[PoolKey, Target] = {}
        self.warm = WarmPools(
            {name: cli.warm.size if self.adapters[name].warm_start else 0 for name, cli in settings.clis.items()},
            {name: cli.warm.idle_lifetime_s for name, cli in settings.clis.items()},
            self._spawn_warm,
            self._count_warm,
        )
        for name in settings.clis:  # read when scraped, so never stale
            metrics.warm_waiting.labels(name).set_function(lambda name=name: self.warm.waiting(name))

    def _account_pool(self, cli: str) -> AccountPool:
        adapter = self.adapters[cli]
        accounts = self.settings.clis[cli].accounts
        return AccountPool(cli, accounts, self.settings.rotation, adapter.credential_env, adapter.login_hint)

    def _account_probed(self, cli: str, account: str, authenticated: bool | None, started_at: float) -> None:
        self.accounts[cli].probed(account, authenticated, started_at)

    def target(self, model: str) -> Target:
        """The CLI behind `model`, found now (a CLI installed later is picked up): else 404."""
        entry = self.settings.models.get(model)
        if entry is None:
            known = ", ".join(sorted(self.settings.models))
            raise OpenAIError(
                404, f"The model '{model}' does not exist here (known: {known}).", code="model_not_found", param="model"
            )
        adapter = self.adapters[entry.cli]
        path = self.readiness.executable(entry.cli)
        if path is None:
            raise OpenAIError(
                404,
                f"The model '{model}' needs the {entry.cli} CLI, which is not installed: {adapter.install_hint}.",
                code="model_not_found",
                param="model",
            )
        return Target(entry, adapter, path)

    async def _preflight(self, target: Target, home: Path, cwd: Path) -> Failure | None:
        """Ask the CLI whether it is logged in where its headless run would wait forever otherwise."""
        adapter = target.adapter
        if adapter.static_auth(adapter.passed_env()).authenticated or (probe := adapter.auth_probe(home)) is None:
            return None
        timeout = self.settings.probe_timeout_s
        code, out, _ = await run_capture(
            [str(target.executable), *probe.args], adapter.child_env(probe.env), cwd, timeout
        )
        if code is None:
            return Failure(
                FailureKind.TIMEOUT, f"`{adapter.name} {' '.join(probe.args)}` did not answer within {timeout:g}s"
            )
        if not adapter.auth_from_probe(code, out).authenticated:
            return Failure(FailureKind.AUTH, f"{adapter.name} is not logged in: {adapter.login_hint}.")
        return None

    async def run(self, target: Target, prompt: Prompt, conversation: str | None = None) -> AsyncIterator[Event]:
        """The CLI's events for one request; the process group is gone when this generator is closed."""
        cli = target.entry.cli
        timeouts = target.adapter.settings.timeouts
        queued = time.monotonic()
        self.metrics.waiting.labels(cli).inc()
        try:
            slot = await self.pools[cli].acquire(timeouts.queue_timeout_s)
        finally:
            self.metrics.waiting.labels(cli).dec()
        self.metrics.queue_wait.labels(cli).observe(time.monotonic() - queued)
        if slot is None:
            yield Failure(
                FailureKind.BUSY,
                f"All {target.adapter.settings.concurrency} {cli} slots stayed busy "
                f"for {timeouts.queue_timeout_s:g}s; retry later.",
            )
            return
        try:
            async for event in self._rotate(target, prompt, slot, conversation):
                yield event
        finally:
            self.pools[cli].release(slot)

    async def _rotate(
        self, target: Target, prompt: Prompt, slot: int, conversation: str | None
    ) -> AsyncIterator[Event]:
        """Fill-first over the CLI's accounts: a usage limit or an expired login before any answer text marks
        the account and runs the request again on the next one, so the client sees no failure."""
        cli = target.entry.cli
        pool, tried, last = self.accounts[cli], set[str](), None
        while (state := pool.choose(conversation, tried)) is not None:
            tried.add(state.name)
            attempt = replace(target, adapter=self.account_adapters[(cli, state.name)])
            answered, moved, started = False, False, pool.clock()
            async with aclosing(self._attempt(attempt, prompt, slot)) as events:
                async for event in events:
                    answered = answered or isinstance(event, TextDelta)
                    moved = self._account_outcome(pool, state, event, conversation, started) and not answered
                    if moved:
                        last = event  # type: ignore[assignment]
                        break
                    yield event
            if not moved:
                return
        yield pool.unavailable(last)

    def _account_outcome(
        self, pool: AccountPool, state: AccountState, event: Event, conversation: str | None, started: float
    ) -> bool:
        """Count what the account's run ended with; True when the failure was about the account."""
        if isinstance(event, Finished):
            pool.answered(state, conversation, started)
            self.metrics.account_requests.labels(pool.cli, state.name, "ok").inc()
        if not isinstance(event, Failure):
            return False
        verdict = pool.verdict(event)
        self.metrics.account_requests.labels(pool.cli, state.name, verdict or "failed").inc()
        if verdict is None:
            return False
        pool.mark(state, verdict, event, started)
        row = next(r for r in pool.report() if r["name"] == state.name)
        said = f"used up until {row['until']}" if row["until"] else f"login expired; fix: {row['fix']}"
        log.warning("%s account %s %s: the next account takes over", pool.cli, state.name, said)
        self.metrics.account_rotations.labels(pool.cli, verdict).inc()
        if len(pool.states) > 1:  # its waiting workers would idle until the account is back: stop them
            self.warm.drop_account(pool.cli, state.name)
        return True

    async def _attempt(self, target: Target, prompt: Prompt, slot: int) -> AsyncIterator[Event]:
        scratch = Path(tempfile.mkdtemp(prefix=f"cli-proxy-{target.entry.cli}-"))
        try:
            async for event in self._run_in(target, prompt, slot, scratch):
                yield event
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def export_accounts(self) -> dict[str, list[dict[str, object]]]:
        """Each CLI's accounts for /readyz, and their states into the metrics (counts and seconds only)."""
        for cli, pool in self.accounts.items():
            for state in pool.states:
                now = state.current(pool.clock())
                for name in STATES:
                    self.metrics.account_state.labels(cli, state.name, name).set(1 if now == name else 0)
                self.metrics.account_reset.labels(cli, state.name).set(pool.seconds_to_reset(state))
        return {cli: pool.report() for cli, pool in self.accounts.items()}

    def _new_run(self, target: Target, prompt: Prompt, paths: RunPaths) -> CliRun:
        adapter, cli = target.adapter, target.entry.cli
        paths.cwd.mkdir(exist_ok=True)
        adapter.prepare_home(paths.home)
        invocation = adapter.prepare(target.entry.model_flag, prompt, paths)
        t = adapter.settings.timeouts
        limits = RunLimits(t.first_byte_timeout_s, t.idle_timeout_s, t.total_timeout_s, t.kill_grace_s)
        return CliRun(
            [str(target.executable), *invocation.args],
            adapter.child_env(invocation.env),
            paths.cwd,
            adapter.stdin_payload(prompt),
            adapter.parser(),
            limits,
            on_spawn=(lambda pid: self.on_spawn(cli, pid)) if self.on_spawn else None,
        )

    def _pool_key(self, target: Target, prompt: Prompt) -> PoolKey | None:
        """The warm pool this request may use: none when a system prompt must be passed at start."""
        if prompt.system or not self.warm.enabled(target.entry.cli):
            return None
        key = PoolKey(target.entry.cli, str(target.executable), target.entry.model_flag, target.adapter.account.name)
        self._warm_targets[key] = target
        return key

    async def _spawn_warm(self, key: PoolKey, slot: int) -> WarmWorker | None:
        target = self._warm_targets[key]
        scratch = Path(tempfile.mkdtemp(prefix=f"cli-proxy-{key.cli}-warm-"))
        home = target.adapter.home_dir(self.settings.state_dir, slot)
        run = self._new_run(target, Prompt(None, ""), RunPaths(cwd=scratch / "cwd", scratch=scratch, home=home))
        try:
            await run.spawn()
        except RuntimeError:
            shutil.rmtree(scratch, ignore_errors=True)
            return None
        return WarmWorker(key, run, scratch, slot, time.monotonic())

    def _count_warm(self, cli: str, outcome: str) -> None:
        self.metrics.warm.labels(cli, outcome).inc()

    async def _run_in(self, target: Target, prompt: Prompt, slot: int, scratch: Path) -> AsyncIterator[Event]:
        adapter, cli = target.adapter, target.entry.cli
        paths = RunPaths(cwd=scratch / "cwd", scratch=scratch, home=adapter.home_dir(self.settings.state_dir, slot))
        if adapter.preflight_auth:
            paths.cwd.mkdir()
            adapter.prepare_home(paths.home)
            if failure := await self._preflight(target, paths.home, paths.cwd):
                yield failure
                return
        key = self._pool_key(target, prompt)
        worker = self.warm.take(key) if key else None
        run = worker.run if worker else self._new_run(target, prompt, paths)
        self.live.add(run)
        self.metrics.running.labels(cli).inc()
        try:
            try:
                if worker:
                    run.send(adapter.stdin_payload(prompt))
                else:
                    await run.start()
            except RuntimeError as exc:
                yield Failure(FailureKind.CRASH, str(exc))
                return
            async for event in run.events():
                yield event
        finally:
            self.metrics.running.labels(cli).dec()
            self.live.discard(run)
            await (self.warm.discard(worker) if worker else run.close())

    async def shutdown(self) -> None:
        """Kill every CLI process still running (the service is stopping)."""
        await self.warm.close()
        for run in list(self.live):
            with suppress(Exception):
                await run.close()
