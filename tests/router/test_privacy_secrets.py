"""The privacy guard's secret detectors: each one fires on a well-formed fake, and look-alikes stay quiet. Also the
cases the review of issue 6 found missed: NAME_TOKEN=value config lines, passwords on command lines and in other
phrasings, and a credential after many harmless trigger lines (no cap on the scanned windows)."""

from __future__ import annotations

import pytest

from router.privacy import PrivacyGuard
from router.secret_detect import _assignment_regions, build_rules, find_secrets
from router.textviews import TextViews
from tests.router import fakes
from tests.router.fakes import ask, request, user


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        (f"curl -H 'Authorization: token {fakes.GITHUB_TOKEN}' https://api.github.com/user", "github_token"),
        (f"my access key id is {fakes.AWS_KEY_ID}, list my buckets", "aws_key"),
        (f"post to slack with {fakes.SLACK_TOKEN}", "slack_token"),
        (f"charge the card via {fakes.STRIPE_KEY}", "stripe_key"),
        (f"export ANTHROPIC_API_KEY={fakes.ANTHROPIC_KEY}", "anthropic_key"),
        (f"client = OpenAI(api_key='{fakes.OPENAI_PROJECT_KEY}')", "openai_project_key"),
        (f"is this valid?\n{fakes.PRIVATE_KEY}", "private_key"),
        (f"decode {fakes.JWT} please", "jwt"),
        (f"DATABASE_URL={fakes.DB_URL}", "db_connection_string"),
        ("https://deploy:" + "Pa55-w0rd9" + "@git.internal.example/repo.git", "credentials_in_url"),
        ("db_password = 'S3cr3t!" + "Passw0rd'", "credential_assignment"),
        ("my password is " + "Tulip-2024!", "credential_assignment"),
        (f"use the secret {fakes.HIGH_ENTROPY} for signing", "high_entropy_token"),
    ],
)
def test_secret_detectors_fire(guard: PrivacyGuard, text: str, detector: str) -> None:
    finding = guard.scan(ask(text))
    assert "secret" in finding.kinds
    assert detector in finding.detectors


@pytest.mark.parametrize(
    "text",
    [
        "In Python, how do I get a dict value by key without a KeyError?",
        "What's the difference between a primary key and a foreign key?",
        "Sort a list of tuples by the second element using key=lambda t: t[1]",
        "Explain how JWT tokens are validated and what the signature protects.",
        "password = 'changeme' is the default in the docs, how do I force a reset?",
        "connect with postgres://user:password@localhost:5432/db in the tutorial",
        "read it from the environment: api_key = os.environ['API_KEY']",
        "the token is invalid after an hour, why?",
        "commit 3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345 broke the build, how do I bisect?",
        "request id 123e4567-e89b-12d3-a456-426614174000 failed with a timeout",
        "rename get_user_by_email_address_and_status to something shorter",
        "Write a function that validates emails like user@example.com and explain the regex.",
    ],
)
def test_look_alikes_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit


def test_secret_in_an_earlier_turn(guard: PrivacyGuard) -> None:
    body = request(
        user(f"my token is {fakes.GITHUB_TOKEN}"),
        {"role": "assistant", "content": "Noted."},
        user("Now write a CI pipeline."),
    )
    assert "github_token" in guard.scan(body).detectors


def test_secret_in_the_system_prompt(guard: PrivacyGuard) -> None:
    body = request({"role": "system", "content": f"Call Stripe with {fakes.STRIPE_KEY}."}, user("Write a poem."))
    assert "stripe_key" in guard.scan(body).detectors


def test_secret_in_a_multimodal_text_part(guard: PrivacyGuard) -> None:
    body = request(
        user(
            [
                {"type": "text", "text": f"key: {fakes.AWS_KEY_ID}"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]
        )
    )
    assert "aws_key" in guard.scan(body).detectors


def test_secret_in_tool_call_arguments(guard: PrivacyGuard) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "deploy", "arguments": f'{{"dsn": "{fakes.DB_URL}"}}'}}
    body = request(
        user("deploy it"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        user("thanks"),
    )
    assert guard.scan(body).hit


def test_finding_never_holds_the_matched_text(guard: PrivacyGuard) -> None:
    finding = guard.scan(ask(f"token {fakes.GITHUB_TOKEN} and card {fakes.VISA_TEST_CARD}"))
    assert finding.hit
    flat = repr(finding)
    assert fakes.GITHUB_TOKEN not in flat and "4111" not in flat


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
