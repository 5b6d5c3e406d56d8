"""Which account a request goes to, how long a used-up one is skipped, how accounts are declared: the rules alone,
on a clock the tests move (no process, no sleep)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cli_proxy.accounts import ACTIVE, EXHAUSTED, LOGIN_EXPIRED, USAGE_LIMIT, AccountPool
from cli_proxy.adapters.claude import ClaudeAdapter, classify, reset_seconds
from cli_proxy.config import ConfigError, load_settings, parse_settings
from cli_proxy.events import Failure, FailureKind
from tests.cli_proxy.conftest import MODELS


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def settings(accounts: Any = None, env: dict[str, str] | None = None, **claude: Any) -> Any:
    clis: dict[str, Any] = {"claude": {**claude, **({"accounts": accounts} if accounts is not None else {})}}
    return parse_settings({"clis": clis, "models": {"claude-opus": MODELS["claude-opus"]}}, env or {})


def pool(names: tuple[str, ...] = ("work", "home"), **rotation: Any) -> tuple[AccountPool, Clock]:
    s = settings([{"name": n, "config_dir": f"/logins/{n}"} for n in names])
    clock = Clock()
    rules = s.rotation if not rotation else type(s.rotation)(**{**s.rotation.__dict__, **rotation})
    return AccountPool("claude", s.clis["claude"].accounts, rules, "CLAUDE_CODE_OAUTH_TOKEN", "log in", clock), clock


LIMIT = Failure(FailureKind.RATE_LIMIT, "Claude: Claude AI usage limit reached", retry_after_s=120)
NO_RESET = Failure(FailureKind.RATE_LIMIT, "Claude: Claude AI usage limit reached")
EXPIRED = Failure(FailureKind.AUTH, "Claude Code is not logged in: run /login.")


def test_fill_first_stays_on_the_first_account_until_it_is_used_up() -> None:
    accounts, clock = pool()
    assert [accounts.choose(f"c{i}", set()).name for i in range(3)] == ["work"] * 3
    work = accounts.choose(None, set())
    accounts.mark(work, USAGE_LIMIT, LIMIT)
    assert accounts.choose("c9", set()).name == "home"
    assert accounts.choose("c9", {"home"}) is None, "a used-up account is not tried before its reset"
    clock.now += 119
    assert accounts.report()[0]["state"] == EXHAUSTED
    clock.now += 1
    assert accounts.report()[0] == {"name": "work", "state": ACTIVE, "until": None, "fix": None}
    assert accounts.choose("new", set()).name == "work"


def test_a_conversation_stays_on_the_account_that_answered_it() -> None:
    accounts, clock = pool()
    work, home = accounts.states
    accounts.mark(work, USAGE_LIMIT, LIMIT)
    accounts.answered(accounts.choose("talk", set()), "talk")
    clock.now += 600  # work is back
    assert accounts.choose("talk", set()) is home
    assert accounts.choose("other", set()) is work
    accounts.mark(home, USAGE_LIMIT, LIMIT)
    assert accounts.choose("talk", set()) is work, "it moves when its account is used up"


def test_the_sticky_memory_is_bounded() -> None:
    accounts, _ = pool(sticky_conversations=2)
    home = accounts.states[1]
    for name in ("a", "b", "c"):
        accounts.answered(home, name)
    assert accounts.choose("a", set()).name == "work", "the oldest conversation is forgotten"
    assert accounts.choose("c", set()) is home


def test_without_a_reset_time_the_skip_grows_and_is_capped() -> None:
    accounts, clock = pool(backoff_first_s=60, backoff_factor=2, backoff_max_s=200)
    work = accounts.states[0]
    waits = []
    for _ in range(4):
        accounts.mark(work, USAGE_LIMIT, NO_RESET)
        waits.append(work.until - clock.now)
    assert waits == [60, 120, 200, 200]
    accounts.answered(work, None)
    accounts.mark(work, USAGE_LIMIT, NO_RESET)
    assert work.until - clock.now == 60, "an answer starts the back-off again"


def test_runs_that_began_before_a_limit_neither_lift_it_nor_count_it_twice() -> None:
    accounts, clock = pool(backoff_first_s=60, backoff_factor=2, backoff_max_s=600)
    work = accounts.states[0]
    began = clock.now
    clock.now += 5
    accounts.mark(work, USAGE_LIMIT, NO_RESET, began)
    clock.now += 1
    accounts.mark(work, USAGE_LIMIT, NO_RESET, began)  # a second run of the same moment hits the same limit
    assert work.until - clock.now == 59, "one limit, one back-off step"
    accounts.answered(work, "talk", began)  # a run that began before the limit finishes its answer
    assert accounts.report()[0]["state"] == EXHAUSTED, "an older answer does not lift a newer limit"
    clock.now += 60
    accounts.answered(work, None, clock.now)
    accounts.mark(work, USAGE_LIMIT, NO_RESET, clock.now)
    assert work.until - clock.now == 60, "a new run's answer does lift it, and starts the back-off again"


def test_a_probe_that_began_before_a_login_expired_does_not_revive_it() -> None:
    accounts, clock = pool()
    work = accounts.states[0]
    probe_began = clock.now
    clock.now += 2
    accounts.mark(work, LOGIN_EXPIRED, EXPIRED, clock.now)
    accounts.probed("work", True, probe_began)
    assert work.state == LOGIN_EXPIRED
    clock.now += 1
    accounts.probed("work", True, clock.now)
    assert work.state == ACTIVE, "a later probe that finds a login brings it back"


def test_an_expired_login_is_skipped_with_its_fix_and_tried_last() -> None:
    accounts, _ = pool()
    work, home = accounts.states
    accounts.mark(work, LOGIN_EXPIRED, EXPIRED)
    assert accounts.choose(None, set()) is home
    assert work.fix == (
        "account work: run `CLAUDE_CONFIG_DIR=/logins/work claude` then /login, or `claude setup-token` and set "
        "env_from: {CLAUDE_CODE_OAUTH_TOKEN: <a variable holding it>} for this account"
    )
    accounts.mark(home, USAGE_LIMIT, LIMIT)
    assert accounts.choose(None, set()) is work, "nothing else left: its login may have been fixed"
    failure = accounts.unavailable(EXPIRED)
    assert failure.kind is FailureKind.RATE_LIMIT and failure.retry_after_s == 120


def test_what_counts_as_about_the_account() -> None:
    accounts, _ = pool()
    assert accounts.verdict(EXPIRED) == LOGIN_EXPIRED
    assert accounts.verdict(LIMIT) == USAGE_LIMIT
    # A text the adapter does not know, recognised by the patterns of models.yaml.
    assert accounts.verdict(Failure(FailureKind.CRASH, "Claude failed: 7-hour limit reached")) == USAGE_LIMIT
    assert accounts.verdict(Failure(FailureKind.OVERLOADED, "Claude: Overloaded")) is None
    assert accounts.verdict(Failure(FailureKind.BAD_REQUEST, "Claude: Prompt is too long")) is None


def test_one_account_answers_as_before() -> None:
    s = settings()
    (only,) = s.clis["claude"].accounts
    assert only.name == "default" and not only.declared
    assert "CLAUDE_CODE_OAUTH_TOKEN" in s.clis["claude"].pass_env
    assert ClaudeAdapter(s.clis["claude"]).home_dir(Path("/state"), 3) == Path("/state/claude/worker-3")
    accounts = AccountPool("claude", [only], s.rotation, "CLAUDE_CODE_OAUTH_TOKEN", "log in", Clock())
    assert accounts.unavailable(LIMIT) is LIMIT, "the CLI's own answer reaches the client"


def test_accounts_from_the_environment_replace_the_file(tmp_path: Path) -> None:
    env = {"CLI_PROXY_CLAUDE_ACCOUNTS": f"work:{tmp_path}/w, home:{tmp_path}/h"}
    s = settings([{"name": "ignored", "config_dir": "/x"}], env)
    accounts = s.clis["claude"].accounts
    assert [(a.name, a.config_dir) for a in accounts] == [("work", tmp_path / "w"), ("home", tmp_path / "h")]
    assert s.clis["claude"].credentials_from == tmp_path / "w"


def test_each_account_sees_only_its_own_token(monkeypatch: pytest.MonkeyPatch) -> None:
    shared, own = "sk-ant-oat01-" + "Sh4r" * 8, "sk-ant-oat01-" + "0wnT" * 8
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", shared)
    monkeypatch.setenv("CLAUDE_TOKEN_HOME", own)
    s = settings(
        [
            {"name": "work", "config_dir": "/logins/work"},
            {"name": "home", "env_from": {"CLAUDE_CODE_OAUTH_TOKEN": "CLAUDE_TOKEN_HOME"}},
        ]
    )
    work, home = (ClaudeAdapter(s.clis["claude"], a) for a in s.clis["claude"].accounts)
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in work.passed_env(), "one shared token would make both the same login"
    assert home.passed_env()["CLAUDE_CODE_OAUTH_TOKEN"] == own
    assert work.settings.credentials_from == Path("/logins/work") and home.settings.credentials_from is None
    assert work.home_dir(Path("/state"), 0) == Path("/state/claude/accounts/work/worker-0")


@pytest.mark.parametrize(
    ("accounts", "env", "message"),
    [
        ([{"name": "Work!", "config_dir": "/x"}], {}, "a-z, 0-9"),
        ([{"name": "a", "config_dir": "/x"}, {"name": "a", "config_dir": "/y"}], {}, "unique"),
        ([{"name": "a"}], {}, "config_dir or env_from"),
        ([], {}, "1 to 16 accounts"),
        (None, {"CLI_PROXY_CLAUDE_ACCOUNTS": "work=/x"}, "NAME:CONFIG_DIR"),
    ],
)
def test_a_wrong_account_declaration_is_a_clear_error(accounts: Any, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(accounts, env)


@pytest.mark.parametrize(
    ("rotation", "message"),
    [
        ({"usage_limit": {"claude": [{"pattern": "limit"}]}}, "pattern and its source"),
        ({"usage_limit": {"claude": [{"pattern": "(", "source": "x"}]}}, "not a valid regular expression"),
        ({"usage_limit": {"claude": "limit"}}, "must be a list"),
        ({"backoff": 60}, "rotation.backoff must be a mapping"),
        ({"backoff": {"first_s": 0}}, "first_s must be a positive number"),
    ],
)
def test_a_wrong_rotation_setting_is_a_clear_error(rotation: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings({"rotation": rotation, "clis": {"claude": {}}, "models": {"m": MODELS["claude-opus"]}}, {})


def test_every_packaged_pattern_names_its_source() -> None:
    rotation = load_settings({}).rotation
    for signals in (*rotation.usage_limit.values(), *rotation.login_expired.values()):
        assert signals and all(signal.source for signal in signals)
    assert set(rotation.login_fix) == {"claude", "codex", "gemini"}


def test_claude_reset_times_are_read_from_its_messages() -> None:
    now = dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC)
    assert reset_seconds("5-hour limit reached ∙ resets 3pm", now) == 2 * 3600
    la = "You've hit your session limit · resets 12:50am (America/Los_Angeles)"
    assert reset_seconds(la, now) == 19 * 3600 + 50 * 60  # 05:00 in Los Angeles now
    assert classify(la, None).kind is FailureKind.RATE_LIMIT
    assert classify("Claude AI usage limit reached|1800000000", None).retry_after_s is not None
