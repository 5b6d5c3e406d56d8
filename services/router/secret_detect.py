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

from router.textviews import TextViews

# Each plugin runs only when one of its literal triggers is present (the whole set costs ~1.5 ms on 4,000
# characters): (plugin name, plugin, literal triggers, where to look). Provider tokens are long, so most triggers
# are looked for in the whitespace-free tokens of 16+ characters ("long"; the plugin then runs on those alone);
# "text" = the original text, "lower" = the lower-cased text.
# Plugins listed in _NEEDS_LONG_VALUE look for values of 20+ characters: they run only when such a token exists.
_PLUGINS: tuple[tuple[str, RegexBasedDetector, tuple[str, ...], str], ...] = (
    ("aws_key", AWSKeyDetector(), ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"), "long"),
    ("aws_key_named", AWSKeyDetector(), ("aws",), "lower"),
    ("github_token", GitHubTokenDetector(), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), "long"),
    (
        "gitlab_token",
        GitLabTokenDetector(),
        (
            "glpat-",
            "gldt-",
            "glptt-",
            "glrt-",
            "glsoat-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glft-",
            "glffct-",
            "GR1348941",
        ),
        "long",
    ),
    ("slack_token", SlackDetector(), ("xox", "hooks.slack.com"), "long"),
    ("stripe_key", StripeDetector(), ("k_live_",), "long"),
    ("openai_key", OpenAIDetector(), ("T3BlbkFJ",), "long"),
    (
        "private_key",
        PrivateKeyDetector(),
        ("PRIVATE KEY", "PuTTY-User-Key", "BEGIN OPENSSH", "BEGIN SSH2", "BEGIN PGP"),
        "text",
    ),
    ("jwt", JwtTokenDetector(), ("eyJ",), "long"),
    ("credentials_in_url", BasicAuthDetector(), ("://",), "long"),
    ("npm_token", NpmDetector(), ("_authToken", "npm_"), "long"),
    ("pypi_token", PypiTokenDetector(), ("pypi-Ag",), "long"),
    ("sendgrid_key", SendGridDetector(), ("SG.",), "long"),
    ("twilio_key", TwilioKeyDetector(), ("AC", "SK"), "long"),
    ("discord_token", DiscordBotTokenDetector(), (".",), "long"),
    ("telegram_token", TelegramBotTokenDetector(), (":",), "long"),
    ("mailchimp_key", MailchimpDetector(), ("-us",), "long"),
    ("azure_storage_key", AzureStorageKeyDetector(), ("AccountKey",), "long"),
    ("artifactory_token", ArtifactoryDetector(), ("AKC", "AP"), "long"),
    ("square_oauth", SquareOAuthDetector(), ("sq0csp-",), "long"),
    ("cloudant_key", CloudantDetector(), ("cloudant",), "lower"),
    ("ibm_cloud_iam", IbmCloudIamDetector(), ("ibm", "iam"), "lower"),
    ("ibm_cos_hmac", IbmCosHmacDetector(), ("cos", "hmac"), "lower"),
    ("softlayer_key", SoftlayerDetector(), ("softlayer",), "lower"),
)
_NEEDS_LONG_VALUE = frozenset({"aws_key_named", "cloudant_key", "ibm_cloud_iam", "ibm_cos_hmac", "softlayer_key"})

# Config-line assignments (password = '...', api_key: ...): detect-secrets' keyword regexes, run on short windows
# around a trigger word of the lower-cased text.
_KEYWORD_TRIGGERS = (
    "pass",
    "pwd",
    "secret",
    "contrase",
    "api_key",
    "apikey",
    "auth_key",
    "priv_key",
    "db_key",
    "token",
    "api key",
    "pin code",
)
_KEYWORD_REGEXES = tuple(ds_keyword.CONFIG_DENYLIST_REGEX_TO_GROUP.items()) + tuple(
    ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items()
)
# Natural-language credentials ("my password is ...", "token: ..."), matched on the original-case window.
_SPOKEN_CREDENTIAL = re.compile(
    r"(?i)\b(?:password|passwd|passphrase|pwd|pin code|api[ _-]?key|secret(?:[ _-]?key)?|access[ _-]?token"
    r"|auth(?:orization)?[ _-]?token|client[ _-]?secret|token)\b\s*(?:is|was|=|:|->)\s*[\"'`]?([^\s\"'`]{6,})"
)
# A key-like word right before a long token ("secret Zx...", "Bearer ...", "key id AKIA...").
_KEYLIKE_BEFORE = re.compile(
    r"(?:key|keys|token|secret|bearer|authorization|apikey|api_key|access_key|secret_key|client_secret"
    r"|credentials?|key id|signature)[\s\"':=]{1,4}(?:id\s+)?[\"']?$"
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


def _plugin_hits(views: TextViews, rules: SecretRules) -> set[str]:
    hits = set()
    for name, plugin, triggers, where in _PLUGINS:
        if name in hits or (where != "text" and not views.long_tokens):
            continue
        if name in _NEEDS_LONG_VALUE and not any(len(t) >= 20 for t in views.long_tokens):
            continue
        haystack = views.long_text if where == "long" else views.lower if where == "lower" else views.text
        if not haystack or not any(t in haystack for t in triggers):
            continue
        target = views.long_text if where == "long" else views.text
        for value in plugin.analyze_string(target):
            if name != "credentials_in_url" or not is_placeholder(value.split(":")[-1], rules):
                hits.add(name)
                break
    return hits


_ASSIGNMENT_AFTER = re.compile(r"[\w\]'\"]{0,24}\s*(?:[:=!]|->|is\b|was\b)")


def _assignment_windows(views: TextViews, triggers: Iterable[str]) -> list[str]:
    """Windows around trigger words that are followed by an assignment (=, :, is, ...): the only places
    detect-secrets' keyword regexes can match. Running them on the whole text costs ~0.5 ms per regex."""
    windows = []
    for trigger in triggers:
        at = views.lower.find(trigger)
        while at != -1 and len(windows) < 64:
            end = at + len(trigger)
            if _ASSIGNMENT_AFTER.match(views.lower, end):
                windows.append(views.text[max(0, at - 60) : end + 120])
            at = views.lower.find(trigger, end)
    return windows


def _keyword_hits(views: TextViews, rules: SecretRules) -> set[str]:
    present = [t for t in _KEYWORD_TRIGGERS if t in views.lower]
    if not present:
        return set()
    for window in _assignment_windows(views, present):
        for regex, group in _KEYWORD_REGEXES:
            for match in regex.finditer(window):
                if looks_like_password(match.group(group), rules):
                    return {"credential_assignment"}
        for match in _SPOKEN_CREDENTIAL.finditer(window):
            if looks_like_password(match.group(1), rules):
                return {"credential_assignment"}
    return set()


def _entropy_hits(views: TextViews, rules: SecretRules) -> set[str]:
    for token in views.long_tokens:
        at = views.text.find(token)
        before = views.lower[max(0, at - 30) : at]
        if _KEYLIKE_BEFORE.search(before) is None:
            continue
        value = token.strip("\"'`,;()[]{}<>")
        if "=" in value[:-2] or ":" in value:  # KEY=value / key:value inside the token
            value = re.split(r"[=:]", value, maxsplit=1)[-1].strip("\"'")
        if len(value) >= 16 and looks_high_entropy(value, rules):
            return {"high_entropy_token"}
    return set()


def _extra_hits(views: TextViews, rules: SecretRules) -> set[str]:
    hits = set()
    if not views.long_text:
        return hits
    for name, pattern in rules.extra_patterns:
        match = pattern.search(views.long_text)
        if match is not None and not (name == "db_connection_string" and _url_password_placeholder(match, rules)):
            hits.add(name)
    return hits


def _url_password_placeholder(match: re.Match[str], rules: SecretRules) -> bool:
    credentials = match.group(0).split("://", 1)[1].rstrip("@")
    return is_placeholder(credentials.split(":", 1)[1], rules)


def find_secrets(text: str | TextViews, rules: SecretRules) -> set[str]:
    """Names of the secret detectors that fire on `text` (empty when none)."""
    views = text if isinstance(text, TextViews) else TextViews(text)
    return (
        _plugin_hits(views, rules)
        | _keyword_hits(views, rules)
        | _entropy_hits(views, rules)
        | _extra_hits(views, rules)
    )
