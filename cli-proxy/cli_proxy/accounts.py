"""Several logins per CLI: fill-first choice, a used-up account skipped until its reset, a logged-out one marked
with its fix, a conversation kept on the account that answered it. No framework; the clock is passed in."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import backoff

from cli_proxy.config import Account, Rotation
from cli_proxy.events import Failure, FailureKind

ACTIVE, EXHAUSTED, LOGIN_EXPIRED = "active", "exhausted", "login_expired"
STATES = (ACTIVE, EXHAUSTED, LOGIN_EXPIRED)
USAGE_LIMIT = "usage_limit"  # what a failure says about its account: used up until a reset, or logged out
Clock = Callable[[], float]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(path: Any) -> str:
    """A folder as the operator wrote it (~ for the home), for a fix they can paste."""
    text, home = str(path), os.path.expanduser("~")
    return "~" + text[len(home) :] if home != "/" and text.startswith(home + os.sep) else text


@dataclass
class AccountState:
    account: Account
    state: str = ACTIVE
    until: float | None = None  # exhausted: tried again from then on
    fix: str | None = None  # logged out: what to run
    reason: str = ""  # the CLI's last word on it (shown to the client when no other account can answer)
    limits_in_a_row: int = 0  # usage limits without a reset time since its last answer: the back-off step
    # When it was last marked: what a run or probe that began before then says is older than the mark.
    marked_at: float = float("-inf")

    @property
    def name(self) -> str:
        return self.account.name

    def current(self, now: float) -> str:
        """Its state now: a used-up account is active again once its reset time has passed."""
        if self.state == EXHAUSTED and self.until is not None and self.until <= now:
            return ACTIVE
        return self.state


class AccountPool:
    """The accounts of one CLI, in fill-first order."""

    def __init__(
        self,
        cli: str,
        accounts: Iterable[Account],
        rotation: Rotation,
        credential_env: str,
        login_hint: str,
        clock: Clock = time.time,
    ) -> None:
        self.cli, self.rotation, self.clock = cli, rotation, clock
        self.credential_env, self.login_hint = credential_env, login_hint
        self.states = [AccountState(account) for account in accounts]
        self._sticky: OrderedDict[str, str] = OrderedDict()  # conversation key -> account name

    def choose(self, conversation: str | None, tried: set[str]) -> AccountState | None:
        """The conversation's account while it can answer, else the first usable one; a logged-out account
        only when nothing else is left (its login may have been fixed since)."""
        now = self.clock()
        left = [s for s in self.states if s.name not in tried]
        usable = [s for s in left if s.current(now) == ACTIVE]
        sticky = self._sticky.get(conversation) if conversation else None
        chosen = next((s for s in usable if s.name == sticky), None) or next(iter(usable), None)
        return chosen or next((s for s in left if s.state == LOGIN_EXPIRED), None)

    def verdict(self, failure: Failure) -> str | None:
        """USAGE_LIMIT or LOGIN_EXPIRED when the failure is about the account, not the request; None otherwise."""
        message = failure.message

        def said(signals: Iterable[Any]) -> bool:
            return any(signal.pattern.search(message) for signal in signals)

        if failure.kind is FailureKind.AUTH or said(self.rotation.login_expired.get(self.cli, ())):
            return LOGIN_EXPIRED
        if failure.kind is FailureKind.RATE_LIMIT or said(self.rotation.usage_limit.get(self.cli, ())):
            return USAGE_LIMIT
        return None

    def mark(self, state: AccountState, verdict: str, failure: Failure, started_at: float | None = None) -> None:
        """Marks the account used up or logged out. Runs that began together and hit the same limit count once:
        one back-off step, not one per run."""
        now = self.clock()
        started_at = now if started_at is None else started_at
        if started_at < state.marked_at and state.state == (LOGIN_EXPIRED if verdict == LOGIN_EXPIRED else EXHAUSTED):
            return
        state.reason, state.marked_at = failure.message, now
        if verdict == LOGIN_EXPIRED:
            state.state, state.until, state.fix = LOGIN_EXPIRED, None, self.fix_for(state.account)
            return
        if failure.retry_after_s:
            wait = float(failure.retry_after_s)
        else:
            wait = self._backoff_s(state.limits_in_a_row)
            state.limits_in_a_row += 1
        state.state, state.until, state.fix = EXHAUSTED, now + wait, None

    def _backoff_s(self, step: int) -> float:
        r = self.rotation
        waits = backoff.expo(base=r.backoff_factor, factor=r.backoff_first_s, max_value=r.backoff_max_s)
        next(waits)  # the generator's first yield only primes it
        return float(next(itertools.islice(waits, step, None)))

    def answered(self, state: AccountState, conversation: str | None, started_at: float | None = None) -> None:
        """The account answered: active, and the conversation stays on it. An answer to a run that began before the
        account was marked says nothing about the mark (the limit came after it), so the mark stays."""
        if (self.clock() if started_at is None else started_at) >= state.marked_at:
            state.state, state.until, state.fix, state.limits_in_a_row = ACTIVE, None, None, 0
        if conversation and self.rotation.sticky_conversations:
            self._sticky[conversation] = state.name
            self._sticky.move_to_end(conversation)
            while len(self._sticky) > self.rotation.sticky_conversations:
                self._sticky.popitem(last=False)

    def probed(self, name: str, authenticated: bool | None, started_at: float) -> None:
        """What a readiness probe found: a logged-out account is marked before any request needs it; a fixed
        one is back. A used-up account stays used up (a probe says nothing about its usage), and a probe that
        began before the account's last mark is older news than the mark."""
        state = next((s for s in self.states if s.name == name), None)
        if state is None or authenticated is None or state.state == EXHAUSTED or started_at < state.marked_at:
            return
        if authenticated:
            state.state, state.fix = ACTIVE, None
        else:
            state.state, state.fix, state.reason = LOGIN_EXPIRED, self.fix_for(state.account), "not logged in"
            state.marked_at = self.clock()

    def fix_for(self, account: Account) -> str:
        if not account.declared:
            return self.login_hint
        template = self.rotation.login_fix.get(self.cli)
        if not template:
            return self.login_hint
        own = account.env_from.get(self.credential_env)
        env = own or f"env_from: {{{self.credential_env}: <a variable holding it>}} for this account"
        folder = _shown(account.config_dir) if account.config_dir else f"<{account.name}'s folder>"
        return f"account {account.name}: " + template.format(config_dir=folder, env=env)

    def unavailable(self, last: Failure | None) -> Failure:
        """What the client gets when no account could answer: the earliest reset, else every fix."""
        now = self.clock()
        if len(self.states) == 1 and last is not None:
            return last  # one account: the CLI's own answer, as without accounts
        exhausted = sorted((s for s in self.states if s.current(now) == EXHAUSTED), key=lambda s: s.until or now)
        if exhausted:
            retry = max(1, math.ceil((exhausted[0].until or now) - now))
            if len(self.states) == 1:
                return Failure(FailureKind.RATE_LIMIT, exhausted[0].reason or "usage limit reached", retry)
            parts = ", ".join(f"{s.name} until {_iso(s.until or now)}" for s in exhausted)
            message = f"Every {self.cli} account is used up or logged out ({parts}); the first is back in {retry}s."
            return Failure(FailureKind.RATE_LIMIT, message, retry_after_s=retry)
        if len(self.states) == 1:
            return Failure(FailureKind.AUTH, self.states[0].reason or f"{self.cli} is not logged in")
        fixes = "; ".join(s.fix or s.name for s in self.states if s.state == LOGIN_EXPIRED)
        return Failure(FailureKind.AUTH, f"No {self.cli} account is logged in: {fixes}.")

    def report(self) -> list[dict[str, Any]]:
        """Each account's state for /readyz and `maximus status`: names, states, times, fixes; no credentials."""
        now = self.clock()
        rows = []
        for s in self.states:
            state = s.current(now)
            rows.append(
                {
                    "name": s.name,
                    "state": state,
                    "until": _iso(s.until) if state == EXHAUSTED and s.until else None,
                    "fix": s.fix if state == LOGIN_EXPIRED else None,
                }
            )
        return rows

    def seconds_to_reset(self, state: AccountState) -> float:
        now = self.clock()
        return max(0.0, (state.until or now) - now) if state.current(now) == EXHAUSTED else 0.0
