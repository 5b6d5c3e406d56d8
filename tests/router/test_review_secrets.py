"""Secrets the review of issue 6 found missed: NAME_TOKEN=value config lines, passwords on command lines and in
other phrasings, and a credential after many harmless trigger lines (no cap on the scanned windows)."""

from __future__ import annotations

import pytest

from router.privacy import PrivacyGuard
from router.secret_detect import _assignment_regions, build_rules, find_secrets
from router.textviews import TextViews
from tests.router import fakes
from tests.router.fakes import ask


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


@pytest.mark.parametrize(
    "text",
    [
        "API_TOKEN=" + fakes.KEY_VALUE,
        f"export GITHUB_TOKEN={fakes.KEY_VALUE}\nthen run the release script",
        "SLACK_BOT_TOKEN=" + fakes.KEY_VALUE,
        "STRIPE_KEY=" + fakes.KEY_VALUE,
        "bearer_token=" + fakes.KEY_VALUE,
        "export STRIPE_KEY=" + fakes.HEX_KEY,
        "settings:\n  auth.secret: " + fakes.KEY_VALUE,
    ],
)
def test_name_token_config_lines_fire(guard: PrivacyGuard, text: str) -> None:
    finding = guard.scan(ask(text))
    assert "secret" in finding.kinds, text


@pytest.mark.parametrize(
    "text",
    [
        "pass: Xy7$" + "kq9Lm",
        "pw=" + fakes.PASSWORD,
        f"curl -u admin:{fakes.PASSWORD} https://ci.internal/api/builds",
        f"curl -s -X POST --user deploy:{fakes.PASSWORD} https://ci.internal/api/builds",
        f"mysql -h db.internal -u root -p{fakes.PASSWORD} shop",
        f"sshpass -p '{fakes.PASSWORD}' ssh admin@10.0.0.5",
        "Mein Passwort ist " + "Sommer2024!",
    ],
)
def test_other_password_phrasings_fire(guard: PrivacyGuard, text: str) -> None:
    assert "secret" in guard.scan(ask(text)).kinds, text


@pytest.mark.parametrize(
    "text",
    [
        "Set max_tokens=256 and temperature=0.2 in the request.",
        "Why does NUM_TOKENS=4096 overflow the context?",
        "mysql -u root -p shop asks for the password, how do I script it?",
        "curl -u $USER:$API_TOKEN https://api.example.com works in bash but not in fish",
        'sshpass -p "$SSHPASS" ssh host fails in cron',
        "In YAML, is `key: value` the same as `key : value`?",
        "CACHE_KEY=user_profile_v2 is the prefix we use",
        "the redis key: session:user:42 expires after an hour",
        "the monkey=banana example from the tutorial",
        "Tests passed: 12\nTests failed: 0",
    ],
)
def test_config_line_look_alikes_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit, text


@pytest.mark.parametrize("noise_lines", [80, 200])  # the old cap: 64 windows
def test_a_credential_after_many_harmless_trigger_lines_fires(guard: PrivacyGuard, noise_lines: int) -> None:
    text = "Tests passed: 12\n" * noise_lines + "db_password: " + "Tr0ub4dor" + "&3x\n"
    assert "credential_assignment" in guard.scan(ask(text)).detectors


def test_overlapping_windows_are_merged(config) -> None:
    views = TextViews("token: abcdefgh " * 250)
    regions = _assignment_regions(views, ["token"])
    assert len(regions) == 1 and regions[0][0] == 0 and regions[0][1] >= len(views.text)  # one region, all in
    rules = build_rules(config.privacy.extra_token_patterns, config.privacy.placeholder_values)
    assert not find_secrets(views, rules)
