"""A login held in the variable an account's env_from names is redacted from every error a client sees, whatever
the variable is called: its name need not look like a secret's."""

from __future__ import annotations

from cli_proxy.app import known_secrets
from cli_proxy.config import parse_settings
from cli_proxy.errors import to_openai_error
from cli_proxy.events import Failure, FailureKind
from tests.cli_proxy.conftest import MODELS


def test_a_login_in_a_plainly_named_variable_is_redacted_from_errors() -> None:
    login = "sk-" + "ant-oat01-" + "Zq9" * 12  # shaped like a Claude OAuth token, built here
    plain = "W0rkL0g1n" * 4  # a login with no recognisable shape: only its variable says it is one
    accounts = [
        {"name": "work", "env_from": {"CLAUDE_CODE_OAUTH_TOKEN": "WORK_LOGIN"}},
        {"name": "home", "env_from": {"CLAUDE_CODE_OAUTH_TOKEN": "HOME_LOGIN"}},
    ]
    settings = parse_settings(
        {"clis": {"claude": {"accounts": accounts}}, "models": {"claude-opus": MODELS["claude-opus"]}}, {}
    )
    secrets = known_secrets(settings, {"WORK_LOGIN": plain, "HOME_LOGIN": login, "SHELL": "/bin/bash"})
    failure = Failure(FailureKind.AUTH, f"Invalid credentials {plain} (fallback {login}) from /bin/bash")
    message = to_openai_error(failure, secrets).body()["error"]["message"]
    assert plain not in message and login not in message
    assert "/bin/bash" in message, "only secrets are removed"
