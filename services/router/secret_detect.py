"""Secret detection: detect-secrets' provider plugins behind cheap triggers, its keyword rules for config lines,
high-entropy values in key-like positions, and the extra provider patterns of routing.yaml.

Every function returns detector names only: a matched value never leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from detect_secrets.plugins import keyword as ds_keyword
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

# Each plugin runs only when its cheap trigger is present: the full plugin set costs ~1.5 ms on 4,000 characters.
_PLUGIN_TRIGGERS: tuple[tuple[str, RegexBasedDetector, str], ...] = (
    ("aws_key", AWSKeyDetector(), r"(?:AKIA|ASIA|ABIA|ACCA|A3T)[A-Z0-9]|(?i:aws)"),
    ("github_token", GitHubTokenDetector(), r"gh[pousr]_"),
    ("gitlab_token", GitLabTokenDetector(), r"gl[a-z]{1,5}-|GR1348941"),
    ("slack_token", SlackDetector(), r"xox[aboprs]-|hooks\.slack\.com"),
    ("stripe_key", StripeDetector(), r"k_live_"),
    ("openai_key", OpenAIDetector(), r"T3BlbkFJ"),
    ("private_key", PrivateKeyDetector(), r"PRIVATE KEY|PuTTY-User-Key|BEGIN (?:OPENSSH|SSH2|PGP)"),
    ("jwt", JwtTokenDetector(), r"eyJ"),
    ("credentials_in_url", BasicAuthDetector(), r"://[^\s/@]+:[^\s/@]+@"),
    ("npm_token", NpmDetector(), r"_authToken|npm_[A-Za-z0-9]"),
    ("pypi_token", PypiTokenDetector(), r"pypi-Ag"),
    ("sendgrid_key", SendGridDetector(), r"SG\.[A-Za-z0-9_-]{20}"),
    ("twilio_key", TwilioKeyDetector(), r"\b(?:AC|SK)[a-z0-9]{32}"),
    ("discord_token", DiscordBotTokenDetector(), r"[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\."),
    ("telegram_token", TelegramBotTokenDetector(), r"\d{8,10}:[0-9A-Za-z_-]{35}"),
    ("mailchimp_key", MailchimpDetector(), r"[0-9a-f]{32}-us\d"),
    ("azure_storage_key", AzureStorageKeyDetector(), r"AccountKey"),
    ("artifactory_token", ArtifactoryDetector(), r"\b(?:AKC|AP[\dA-F])[a-zA-Z0-9]{8,}"),
    ("square_oauth", SquareOAuthDetector(), r"sq0csp-"),
    ("cloudant_key", CloudantDetector(), r"(?i:cloudant)"),
    ("ibm_cloud_iam", IbmCloudIamDetector(), r"(?i:ibm|iam)"),
    ("ibm_cos_hmac", IbmCosHmacDetector(), r"(?i:\bcos\b|hmac)"),
    ("softlayer_key", SoftlayerDetector(), r"(?i:softlayer)"),
)
_TRIGGERS = tuple((name, plugin, re.compile(trigger)) for name, plugin, trigger in _PLUGIN_TRIGGERS)

# Config-line assignments (password = '...', api_key: ...): detect-secrets' keyword regexes, run on short windows.
_KEYWORD_TRIGGER = re.compile(r"(?i)pass|pwd|secret|contrase|api_?key|auth_?key|priv_?key|db_?key|token")
_KEYWORD_REGEXES = tuple(ds_keyword.CONFIG_DENYLIST_REGEX_TO_GROUP.items()) + tuple(
    ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items()
)
# Natural-language credentials ("my password is ...", "token: ...").
_SPOKEN_CREDENTIAL = re.compile(
    r"(?i)\b(?:password|passwd|passphrase|pwd|pin code|api[ _-]?key|secret(?:[ _-]?key)?|access[ _-]?token"
    r"|auth(?:orization)?[ _-]?token|client[ _-]?secret|token)\b\s*(?:is|was|=|:|->)\s*[\"'`]?([^\s\"'`]{6,})"
)
# High-entropy values right after a key-like word ("secret Zx...", "Bearer ...", "key id AKIA...").
_KEYLIKE_VALUE = re.compile(
    r"(?i)\b(?:key|keys|token|secret|bearer|authorization|apikey|api_key|access_key|secret_key|client_secret"
    r"|credentials?|key id|signature)\b[\s\"':=]{1,4}(?:id\s+)?([A-Za-z0-9+/_\-.=]{16,})"
)
_ENTROPY = Base64HighEntropyString()
_WINDOW = 160


@dataclass(frozen=True)
class SecretRules:
    extra_patterns: tuple[tuple[str, re.Pattern[str]], ...]
    placeholders: frozenset[str]
    entropy_threshold: float = 3.5


def build_rules(extra_patterns: dict[str, str], placeholders: Iterable[str]) -> SecretRules:
    compiled = tuple((name, re.compile(pattern)) for name, pattern in extra_patterns.items())
    return SecretRules(compiled, frozenset(p.lower() for p in placeholders))


def _char_classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def is_placeholder(value: str, rules: SecretRules) -> bool:
    stripped = value.strip("\"'`;,.)(<>[]{}")
    lowered = stripped.lower()
    return (
        not stripped
        or lowered in rules.placeholders
        or lowered.startswith(("$", "%", "{{", "<", "env:", "os.environ", "process.env", "getenv", "secrets."))
        or len(set(lowered)) <= 2  # xxxxxx, ******
        or "your" in lowered
    )


def looks_like_password(value: str, rules: SecretRules) -> bool:
    stripped = value.strip("\"'`;,.)(")
    return len(stripped) >= 6 and _char_classes(stripped) >= 2 and not is_placeholder(stripped, rules)


def looks_high_entropy(value: str, rules: SecretRules) -> bool:
    if is_placeholder(value, rules) or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    return _ENTROPY.calculate_shannon_entropy(value) >= rules.entropy_threshold


def _windows(text: str, pattern: re.Pattern[str]) -> Iterable[str]:
    for match in pattern.finditer(text):
        yield text[max(0, match.start() - _WINDOW) : match.end() + _WINDOW]


def _plugin_hits(text: str, rules: SecretRules) -> set[str]:
    hits = set()
    for name, plugin, trigger in _TRIGGERS:
        if trigger.search(text) is None:
            continue
        for value in plugin.analyze_string(text):
            if name != "credentials_in_url" or not is_placeholder(value, rules):
                hits.add(name)
                break
    return hits


def _keyword_hits(text: str, rules: SecretRules) -> set[str]:
    if _KEYWORD_TRIGGER.search(text) is None:
        return set()
    for window in _windows(text, _KEYWORD_TRIGGER):
        for regex, group in _KEYWORD_REGEXES:
            for match in regex.finditer(window):
                if looks_like_password(match.group(group), rules):
                    return {"credential_assignment"}
        for match in _SPOKEN_CREDENTIAL.finditer(window):
            if looks_like_password(match.group(1), rules):
                return {"credential_assignment"}
    return set()


def _entropy_hits(text: str, rules: SecretRules) -> set[str]:
    for match in _KEYLIKE_VALUE.finditer(text):
        if looks_high_entropy(match.group(1), rules):
            return {"high_entropy_token"}
    return set()


def _extra_hits(text: str, rules: SecretRules) -> set[str]:
    hits = set()
    for name, pattern in rules.extra_patterns:
        match = pattern.search(text)
        if match is not None and not (name == "db_connection_string" and _url_password_placeholder(match, rules)):
            hits.add(name)
    return hits


def _url_password_placeholder(match: re.Match[str], rules: SecretRules) -> bool:
    credentials = match.group(0).split("://", 1)[1].rstrip("@")
    return is_placeholder(credentials.split(":", 1)[1], rules)


def find_secrets(text: str, rules: SecretRules) -> set[str]:
    """Names of the secret detectors that fire on `text` (empty when none)."""
    return _plugin_hits(text, rules) | _keyword_hits(text, rules) | _entropy_hits(text, rules) | _extra_hits(
        text, rules
    )
