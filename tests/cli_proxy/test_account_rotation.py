"""Several logins per CLI through the real CLI proxy: two fake accounts (each its own config folder), the first
used up after N answers. No request fails, the second takes over, the first comes back after its reset; an
expired login is marked with its fix; a conversation stays on the account that answered it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from maximus import tiers
from tests.cli_proxy.conftest import API_KEY, RunningProxy

NO_WARM = {"warm_pool": {"size": 0}}


def account(tmp_path: Path, name: str, credential: str = ".credentials.json", **spec: Any) -> dict[str, str]:
    """An account folder with a fake login and what the fake CLI does with it (see fakes/_fakelib.py)."""
    folder = tmp_path / f"login-{name}"
    folder.mkdir()
    (folder / credential).write_text('{"fake": true}')
    (folder / "fake-account.json").write_text(json.dumps({"label": name, **spec}))
    return {"name": name, "config_dir": str(folder)}


def ask(proxy: RunningProxy, text: str, model: str = "claude-opus", stream: bool = False, **headers: str) -> str:
    """The answer's text; fails the test on any status but 200."""
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    with proxy.client() as client:
        response = client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()["choices"][0]["message"]["content"]
    chunks = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    assert not any("error" in c for c in chunks), response.text
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))


def accounts_of(proxy: RunningProxy, cli: str = "claude") -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in proxy.readyz()["accounts"][cli]}


def metric(proxy: RunningProxy, name: str, **labels: str) -> float:
    text = httpx.get(f"{proxy.base_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_state(proxy: RunningProxy, name: str, state: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (now := accounts_of(proxy)[name]["state"]) != state:
        if time.monotonic() > deadline:
            raise TimeoutError(f"account {name} is {now}, never {state}")
        time.sleep(0.1)


def test_a_used_up_account_hands_over_without_a_failed_request_and_comes_back(
    proxy_factory: Callable, tmp_path: Path
) -> None:
    work = account(tmp_path, "work", answers=3, reset_in_s=3)
    home = account(tmp_path, "home")
    with proxy_factory(clis={"claude": {**NO_WARM, "accounts": [work, home]}}) as proxy:
        served = [ask(proxy, f"question {i}", stream=i % 2 == 1) for i in range(6)]
        assert served == ["Hello from fake Claude (work)."] * 3 + ["Hello from fake Claude (home)."] * 3
        state = accounts_of(proxy)
        assert state["work"]["state"] == "exhausted" and state["work"]["until"].endswith("Z")
        assert state["home"] == {"name": "home", "state": "active", "until": None, "fix": None}
        assert metric(proxy, "cli_proxy_account_state", account="work", state="exhausted") == 1.0
        assert metric(proxy, "cli_proxy_account_rotations_total", reason="usage_limit") == 1.0
        assert metric(proxy, "cli_proxy_account_requests_total", account="home", outcome="ok") == 3.0
        assert metric(proxy, "cli_proxy_requests_total", outcome="rate_limit") == 0.0

        with ThreadPoolExecutor(4) as pool:  # concurrent requests while work is used up: all on home
            burst = list(pool.map(lambda i: ask(proxy, f"burst {i}"), range(4)))
        assert burst == ["Hello from fake Claude (home)."] * 4

        wait_state(proxy, "work", "active")  # its reset time has passed (a few seconds)
        assert ask(proxy, "a new conversation") == "Hello from fake Claude (work)."
        # A conversation that began on home stays there (its prompt cache) while home answers.
        assert ask(proxy, "question 4") == "Hello from fake Claude (home)."
        text = httpx.get(f"{proxy.base_url}/metrics", timeout=10).text
        assert str(tmp_path) not in text and "credentials" not in text, "metrics carry names and counts only"


def test_a_named_conversation_stays_on_its_account(proxy_factory: Callable, tmp_path: Path) -> None:
    work = account(tmp_path, "work", answers=1, reset_in_s=2)
    home = account(tmp_path, "home")
    declared = f"work:{work['config_dir']},home:{home['config_dir']}"  # the environment's way to declare them
    with proxy_factory(clis={"claude": NO_WARM}, extra_env={"CLI_PROXY_CLAUDE_ACCOUNTS": declared}) as proxy:
        assert ask(proxy, "first turn", **{"X-Session-Id": "s-1"}) == "Hello from fake Claude (work)."
        assert ask(proxy, "second turn", **{"X-Session-Id": "s-1"}) == "Hello from fake Claude (home)."
        wait_state(proxy, "work", "active")
        assert ask(proxy, "third turn", **{"X-Session-Id": "s-1"}) == "Hello from fake Claude (home)."
        assert ask(proxy, "another session", **{"X-Session-Id": "s-2"}) == "Hello from fake Claude (work)."


def test_an_expired_login_is_marked_with_its_fix_and_skipped(proxy_factory: Callable, tmp_path: Path) -> None:
    work = account(tmp_path, "work", expired=True)
    home = account(tmp_path, "home")
    with proxy_factory(clis={"claude": {**NO_WARM, "accounts": [work, home]}}) as proxy:
        assert ask(proxy, "hello") == "Hello from fake Claude (home)."
        marked = accounts_of(proxy)["work"]
        assert marked["state"] == "login_expired"
        assert f"CLAUDE_CONFIG_DIR={work['config_dir']} claude" in marked["fix"]
        assert "claude setup-token" in marked["fix"]
        assert metric(proxy, "cli_proxy_account_state", account="work", state="login_expired") == 1.0
        assert ask(proxy, "again") == "Hello from fake Claude (home)."
        assert metric(proxy, "cli_proxy_account_requests_total", account="work", outcome="login_expired") == 1.0

        proxy.wait_checked()
        env = {
            "CLI_PROXY_API_BASE": f"{proxy.base_url}/v1",
            "CLI_PROXY_API_KEY": API_KEY,
            "CLI_PROXY_CONFIG": str(tmp_path / "cli-proxy.yaml"),
        }
        power = tiers.cli_tier("power", "claude-opus", env)  # what `maximus status` shows
        assert power.state == tiers.DEGRADED, power
        assert "accounts: work login expired, home active" in power.detail
        assert f"CLAUDE_CONFIG_DIR={work['config_dir']}" in power.fix
        assert "credentials" not in json.dumps(tiers.as_dict(power))


def test_a_logged_out_account_is_marked_before_any_request(proxy_factory: Callable, tmp_path: Path) -> None:
    work = account(tmp_path, "work")
    (Path(work["config_dir"]) / ".credentials.json").unlink()  # never logged in
    home = account(tmp_path, "home")
    with proxy_factory(clis={"claude": {**NO_WARM, "accounts": [work, home]}}) as proxy:
        report = proxy.wait_checked()
        assert report["clis"]["claude"]["state"] == "ready", "one logged-in account is enough"
        rows = {row["name"]: row for row in report["accounts"]["claude"]}
        assert rows["work"]["state"] == "login_expired" and "CLAUDE_CONFIG_DIR=" in rows["work"]["fix"]
        assert rows["home"]["state"] == "active"
        assert ask(proxy, "hello") == "Hello from fake Claude (home)."
        assert metric(proxy, "cli_proxy_account_requests_total", account="work") == 0.0, "never run"


def test_every_account_used_up_is_one_429_with_the_earliest_reset(proxy_factory: Callable, tmp_path: Path) -> None:
    work = account(tmp_path, "work", answers=0, reset_in_s=600)
    home = account(tmp_path, "home", answers=0, reset_in_s=900)
    with proxy_factory(clis={"claude": {**NO_WARM, "accounts": [work, home]}}) as proxy:
        response = proxy.chat("claude-opus", "hello")
        assert response.status_code == 429, response.text
        error = response.json()["error"]
        assert re.search(r"work until .+Z, home until .+Z", error["message"]), error
        assert 590 <= int(response.headers["retry-after"]) <= 601
        again = proxy.chat("claude-opus", "hello")  # neither is run again before its reset
        assert again.status_code == 429
        assert metric(proxy, "cli_proxy_account_requests_total", account="work", outcome="usage_limit") == 1.0


def test_a_warm_worker_serves_only_its_own_account(proxy_factory: Callable, tmp_path: Path) -> None:
    work = account(tmp_path, "work", answers=2, reset_in_s=600)
    home = account(tmp_path, "home")
    warm = {"warm_pool": {"size": 1, "idle_lifetime_s": 60}, "accounts": [work, home]}
    with proxy_factory(clis={"claude": warm}) as proxy:
        homes = [json.loads(ask(proxy, f"SCENARIO=echo turn {i}"))["config_dir"] for i in range(4)]
        assert all("/accounts/work/" in h for h in homes[:2]), homes
        assert all("/accounts/home/" in h for h in homes[2:]), homes


def test_codex_accounts_rotate_on_its_usage_limit(proxy_factory: Callable, tmp_path: Path) -> None:
    first = account(tmp_path, "first", credential="auth.json", answers=1)
    second = account(tmp_path, "second", credential="auth.json")
    with proxy_factory(clis={"codex": {**NO_WARM, "accounts": [first, second]}}) as proxy:
        answers = [ask(proxy, f"question {i}", model="gpt-5.5") for i in range(3)]
        assert answers == ["Hello from fake Codex (first).", *["Hello from fake Codex (second)."] * 2]
        state = accounts_of(proxy, "codex")["first"]
        assert state["state"] == "exhausted" and state["until"], state  # "Try again at 1:37 AM": a clock time


def test_an_expired_codex_login_is_marked_with_its_own_fix(proxy_factory: Callable, tmp_path: Path) -> None:
    first = account(tmp_path, "first", credential="auth.json", expired=True)
    second = account(tmp_path, "second", credential="auth.json")
    with proxy_factory(clis={"codex": {**NO_WARM, "accounts": [first, second]}}) as proxy:
        assert ask(proxy, "hello", model="gpt-5.5") == "Hello from fake Codex (second)."
        marked = accounts_of(proxy, "codex")["first"]
        assert marked["state"] == "login_expired"
        assert f"CODEX_HOME={first['config_dir']} codex login" in marked["fix"]


def test_gemini_accounts_rotate_on_its_quota_429(proxy_factory: Callable, tmp_path: Path) -> None:
    first = account(tmp_path, "first", credential="oauth_creds.json", answers=1)
    second = account(tmp_path, "second", credential="oauth_creds.json")
    with proxy_factory(
        clis={"gemini": {"accounts": [first, second], "env": {"GEMINI_API_KEY": "AIza" + "K3y" * 12}}}
    ) as proxy:
        answers = [ask(proxy, f"question {i}", model="gemini-2.5-pro") for i in range(3)]
        assert answers == ["Hello from fake Gemini (first).", *["Hello from fake Gemini (second)."] * 2]
        assert accounts_of(proxy, "gemini")["first"]["state"] == "exhausted"  # "Please retry in 23.4s"
        assert 20 <= metric(proxy, "cli_proxy_account_reset_seconds", cli="gemini", account="first") <= 24
