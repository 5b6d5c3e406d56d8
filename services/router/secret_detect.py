"""Secret detection: detect-secrets' provider plugins behind cheap triggers, its keyword rules for config lines,
high-entropy values in key-like positions, and the extra provider patterns of routing.yaml.

Every function returns detector names only: a matched value never leaves this module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
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
# Plugins listed in _VALUE_RUNS run only when a token holds a run of characters their value could be.
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
# How far from its trigger a plugin's match can reach (characters after it; the same before it is read too): a
# JWT is one long token, GitLab's agent tokens reach 1,024 characters, every other match stays within 256.
_DEFAULT_REACH = 256
_MATCH_REACH = {"jwt": 16_384, "gitlab_token": 1_100}
# Texts longer than this are read by each plugin only around its triggers: megabytes of pasted base64 then cost
# what their trigger neighbourhoods cost, not a full regex pass per plugin.
WINDOWED_ABOVE = 8_000
# Past this many trigger occurrences the windows cover the text anyway: read it whole.
_MAX_WINDOWS = 2048


def trigger_windows(haystack: str, target: str, triggers: Iterable[str], reach: int) -> str:
    """The parts of `target` within `reach` characters of a trigger found in `haystack` (same offsets), merged
    and joined by line breaks; the whole target when it is short or the triggers are everywhere."""
    if len(target) <= WINDOWED_ABOVE:
        return target
    spans: list[tuple[int, int]] = []
    for trigger in triggers:
        at = haystack.find(trigger)
        while at != -1:
            spans.append((max(0, at - reach), at + len(trigger) + reach))
            if len(spans) > _MAX_WINDOWS:
                return target
            at = haystack.find(trigger, at + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return "\n".join(target[start:end] for start, end in merged)


# Plugins whose value is a fixed run of characters (their regexes in detect-secrets, case-insensitive): they run
# only when a whitespace-free token of 16+ characters holds such a run (AWS secret 40, Cloudant 64 hex or 24
# letters, IBM Cloud IAM 44, IBM COS HMAC 48 hex, SoftLayer 64). Their triggers alone are common words (iam in
# William, cos in cost): a full-text pass of their regexes each time cost up to 0.4 ms.
_VALUE_RUNS = {
    "aws_key_named": re.compile(r"[0-9a-zA-Z/+]{40}"),
    "cloudant_key": re.compile(r"[0-9a-fA-F]{64}|[a-zA-Z]{24}"),
    "ibm_cloud_iam": re.compile(r"[a-zA-Z0-9_-]{44}"),
    "ibm_cos_hmac": re.compile(r"[a-fA-F0-9]{48}"),
    "softlayer_key": re.compile(r"[a-zA-Z0-9]{64}"),
}

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


def _lowercase_twins(regexes: Iterable[tuple[re.Pattern[str], int]]) -> tuple[tuple[re.Pattern[str], int], ...]:
    """detect-secrets' keyword regexes without IGNORECASE (identical ones once), to run on the lower-cased text:
    ~10x faster (a case-insensitive alternation defeats the regex engine's literal prefix scan). Values are then
    read from the original text at the same offsets."""
    twins: dict[str, tuple[re.Pattern[str], int]] = {}
    for regex, group in regexes:
        twins.setdefault(regex.pattern, (re.compile(regex.pattern, regex.flags & ~re.IGNORECASE), group))
    return tuple(twins.values())


_KEYWORD_REGEXES = _lowercase_twins(
    (*ds_keyword.CONFIG_DENYLIST_REGEX_TO_GROUP.items(), *ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items())
)
# Every detect-secrets keyword contains one of these; regexes that start with a quote need a comparison.
_DS_KEYWORD_STEMS = ("key", "pass", "pwd", "secret", "contrase")
_COMPARISONS = ("==", "!=")
_QUOTE_FIRST = tuple((r, g) for r, g in _KEYWORD_REGEXES if r.pattern.startswith("(["))
_KEYWORD_FIRST = tuple((r, g) for r, g in _KEYWORD_REGEXES if not r.pattern.startswith("(["))


def _leading_keyword_group(regexes: Iterable[tuple[re.Pattern[str], int]]) -> re.Pattern[str]:
    """The keyword alternation every _KEYWORD_FIRST regex starts with, followed in each by \\w* (checked here,
    since _keyword_first_matches relies on it)."""
    groups = {r.pattern[: r.pattern.index(")") + 1] for r, _ in regexes}
    if len(groups) != 1 or not all(r.pattern[len(next(iter(groups))) :].startswith("\\w*") for r, _ in regexes):
        raise RuntimeError("detect-secrets' keyword regexes changed shape: review router.secret_detect")
    return re.compile(groups.pop())


_DS_KEYWORD = _leading_keyword_group(_KEYWORD_FIRST)


def _operator(regex: re.Pattern[str]) -> str:
    """The character every match of a _KEYWORD_FIRST regex holds after its name: ; (a quoted value ended by ;), :
    or = (also in !== and =>); a region without it is not read by that regex."""
    rest = regex.pattern[len(_DS_KEYWORD.pattern) :]
    return ";" if rest.endswith(";") else ":" if ":" in rest else "="


_KEYWORD_FIRST_BY_OPERATOR = tuple((regex, group, _operator(regex)) for regex, group in _KEYWORD_FIRST)
# Natural-language credentials ("my password is ...", "token: ...", "API_TOKEN=...", "Mein Passwort ist ..."),
# matched on the lower-cased text (the value is read from the original). No leading \b: the name may end a
# longer one (API_TOKEN, db_password).
_SPOKEN_CREDENTIAL = re.compile(
    r"(?<![a-z0-9])(?:password|passwd|passphrase|passwort|kennwort|contrase(?:ñ|n)a|mot de passe|pwd"
    r"|pin code|api[ _-]?key|secret(?:[ _-]?key)?|access[ _-]?token|auth(?:orization)?[ _-]?token"
    r"|client[ _-]?secret|token)\b\s*(?:is|was|ist|war|est|es|=|:|->)\s*[\"'`]?([^\s\"'`]{6,})"
)
# A key-like word right before a long token ("secret Zx...", "Bearer ...", "key id AKIA...").
_KEYLIKE_BEFORE = re.compile(
    r"(?:key|keys|token|secret|bearer|authorization|apikey|api_key|access_key|secret_key|client_secret"
    r"|credentials?|key id|signature)[\s\"':=]{1,4}(?:id\s+)?[\"']?$"
)
_ENTROPY = Base64HighEntropyString()


@dataclass(frozen=True)
class SecretRules:
    extra_patterns: tuple[tuple[str, re.Pattern[str], str | None], ...]  # (name, regex, literal every match has)
    placeholders: frozenset[str]
    entropy_threshold: float = 3.5


def _literal_prefix(pattern: str) -> str | None:
    """The literal text every match of `pattern` starts with (sk-ant- for 'sk-ant-[A-Za-z0-9]{20,}'), or None."""
    body = pattern.removeprefix("\\b")
    end = next((i for i, c in enumerate(body) if c in "\\.^$*+?{}[]|()"), len(body))
    if end < len(body) and body[end] in "*?{":
        end -= 1  # the last character is optional or repeated
    return body[:end] if end >= 2 else None


def build_rules(extra_patterns: dict[str, str], placeholders: Iterable[str]) -> SecretRules:
    compiled = tuple((name, re.compile(pattern), _literal_prefix(pattern)) for name, pattern in extra_patterns.items())
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
        or lowered.endswith(("example", "examplekey"))  # AWS's documented AKIAIOSFODNN7EXAMPLE and its kin
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
        haystack = views.long_text if where == "long" else views.lower if where == "lower" else views.text
        if not haystack or not any(t in haystack for t in triggers):
            continue
        if name in _VALUE_RUNS and _VALUE_RUNS[name].search(views.long_text) is None:
            continue
        target = views.long_text if where == "long" else views.text
        target = trigger_windows(haystack, target, triggers, _MATCH_REACH.get(name, _DEFAULT_REACH))
        for value in plugin.analyze_string(target):
            if not is_placeholder(value.split(":")[-1] if name == "credentials_in_url" else value, rules):
                hits.add(name)
                break
    return hits


_ASSIGNMENT_AFTER = r"[\w\]'\"]{0,24}\s*(?:[:=!]|->|(?:is|ist|was|war|est|es)\b)"
# Context kept around a trigger word: the keyword regexes need the name before it and the value after it.
_BEFORE, _AFTER = 60, 120


@functools.lru_cache(maxsize=64)
def _trigger_followed_by_assignment(trigger: str) -> re.Pattern[str]:
    """The trigger word where an assignment (=, :, is, ...) follows it. The regex starts with the literal word, so
    the engine finds it as fast as str.find, and a text repeating the word hundreds of times is read in C."""
    return re.compile(re.escape(trigger) + "(?=" + _ASSIGNMENT_AFTER + ")")


def _assignment_regions(views: TextViews, triggers: Iterable[str]) -> list[tuple[int, int]]:
    """Regions around trigger words that are followed by an assignment (=, :, is, ...): the only places
    detect-secrets' keyword regexes can match. Overlapping windows are merged, so that each character is
    scanned once however many triggers a text repeats, and no trigger is ever left out."""
    windows = []
    for trigger in triggers:
        width = len(trigger) + _AFTER
        found = _trigger_followed_by_assignment(trigger).finditer(views.lower)
        windows += [(match.start() - _BEFORE, match.start() + width) for match in found]
    windows.sort()
    merged: list[tuple[int, int]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((max(0, start), end))
    return merged


def _keyword_first_matches(region: str) -> Iterator[tuple[re.Match[str], int]]:
    """What finditer yields for each _KEYWORD_FIRST regex, found by trying the regexes only where a keyword starts
    (one pass of the keyword alternation instead of one pass per regex: 6x less on a text full of keywords). A
    match can start nowhere else; a keyword inside another one ('passwd' in 'key_passwd') can only match what
    the outer one can, since both continue with \\w*; and no match ends inside a keyword (each ends at a quote,
    a semicolon or where its value stops before a quote), so skipping starts before the last end is finditer's
    own rule."""
    starts = [m.start() for m in _DS_KEYWORD.finditer(region)]
    for regex, group, operator in _KEYWORD_FIRST_BY_OPERATOR:
        if operator not in region:
            continue
        end = 0
        for at in starts:
            if at < end:
                continue
            match = regex.match(region, at)
            if match is not None:
                end = max(match.end(), at + 1)
                yield match, group


# Where a value that looks_like_password could pass (6+ characters) can start in a match of a detect-secrets keyword
# regex: unquoted, after its operator (: or one ending in =) and spaces; quoted, right after its opening quote (every
# regex reading => or a quote-first comparison wants a quote). A value starts with a word character and holds no
# quote or vertical tab. A region without such a place ("api_key: 'x' " x 300: 600 matches of one-letter values)
# yields no value those regexes could report.
_PASSABLE_VALUE_START = re.compile(r"[:=]\s*\w[^\v'\"]{5}|['\"`]\w[^\v'\"]{5}")


def _keyword_matches(region: str) -> Iterator[tuple[re.Match[str], int]]:
    """Matches of the keyword regexes that can match in a lower-cased region (cheap literal tests first; the
    detect-secrets ones only where one could hold a value that can pass)."""
    for match in _SPOKEN_CREDENTIAL.finditer(region):
        yield match, 1
    if _PASSABLE_VALUE_START.search(region) is None:
        return
    if any(stem in region for stem in _DS_KEYWORD_STEMS):
        yield from _keyword_first_matches(region)
    if any(op in region for op in _COMPARISONS):
        for regex, group in _QUOTE_FIRST:
            for match in regex.finditer(region):
                yield match, group


def _keyword_hits(views: TextViews, rules: SecretRules) -> set[str]:
    present = [t for t in _KEYWORD_TRIGGERS if t in views.lower]
    if not present:
        return set()
    seen: set[str] = set()  # a text repeating one assignment is judged once
    for start, end in _assignment_regions(views, present):
        region = views.lower[start:end]
        for match, group in _keyword_matches(region):
            value = views.text[start + match.start(group) : start + match.end(group)]
            if value not in seen and looks_like_password(value, rules):
                return {"credential_assignment"}
            seen.add(value)
    return set()


# NAME=value / NAME: value where NAME ends in a credential word (API_TOKEN=, STRIPE_KEY=, bearer_token=, pass:,
# pw=): the word is found with str.find, then this regex is matched right there (anchored).
_NAME_WORDS = ("key", "token", "secret", "pass", "pwd", "pw", "credential", "auth")
# A name may say how the value is encoded after the credential word (private_key_hex, privateKeyHex, key_b64).
_ENCODING_SUFFIX = r"(?:[_.-]?(?:hex|b64|base64|bytes|pem|der|raw))?"
_NAMED_VALUE = re.compile(
    r"(?:key|token|secret|pass(?:word|wd|phrase)?|pwd|pw|credentials?|auth)"
    + _ENCODING_SUFFIX
    + r"[\"'\]]{0,2}[ \t]*(?:=|:(?!//))[ \t]*[\"'`]?([^\s\"'`,;]+)"
)
# Names that end in "key" but hold identifiers, not credentials (idempotency_key, cache_key, public_key).
_NOT_SECRET_KEY_NAMES = re.compile(
    r"(?:idempotency|cache|partition|sort|primary|foreign|public|routing|shard|row|object|lookup|dedup|hash|map"
    r"|composite|unique|natural|surrogate|index|group|message|event|trace|request|correlation)[_.-]?$"
)


def _starts_name_word(lower: str, text: str, at: int) -> bool:
    """The credential word at `at` starts a name or a part of one: after a separator (API_TOKEN, db.password)
    or a camel-case hump (privateKey, SharedAccessKey), never inside a word ("monkey")."""
    if at == 0 or not lower[at - 1].isalnum():
        return True
    return text[at].isupper() and text[at - 1].islower()


def _identifier_name(lower: str, at: int) -> bool:
    """The name ending at `at` is one of the identifier names (idempotency_key ...), not a credential's."""
    return _NOT_SECRET_KEY_NAMES.search(lower, max(0, at - 16), at) is not None


_IDENTIFIER_SEPARATORS = str.maketrans("", "", "_-.:/")  # user_id_42, session:user:42, a/b/c


def looks_like_key_value(value: str, rules: SecretRules) -> bool:
    """A value that looks like a credential: 8+ characters mixing letters and digits, with a third character
    class (Xy7$kq9Lm, Zq9Lw2Xe7...) or 16+ random-looking alphanumerics (hex keys). Not a placeholder, a URL,
    an identifier such as user_id_12345678 or session:user:42, or a number."""
    value = value.strip("\"'`;,.)(<>[]{}")
    if len(value) < 8 or "://" in value or is_placeholder(value, rules):
        return False
    if not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    core = value.translate(_IDENTIFIER_SEPARATORS)
    if _char_classes(core) >= 3:
        return True
    return core == value and len(value) >= 16 and _ENTROPY.calculate_shannon_entropy(value) >= 3.0


# Where a _NAMED_VALUE value that looks_like_key_value could pass (8+ characters) can be: after = or :, spaces and
# an optional quote. A text without such a place ("pw=abc " x 570) has no named assignment worth reading.
_PASSABLE_NAMED_VALUE = re.compile(r"[=:][ \t]*[\"'`]?[^\s\"'`,;]{8}")


def _named_assignment_hits(views: TextViews, rules: SecretRules) -> set[str]:
    lower, text = views.lower, views.text
    seen: set[str] = set()  # values judged not to be keys: a repeated one is skipped before the name checks
    gated = False  # looked for a passable value (once, at the first assignment: most texts have none)
    for word in _NAME_WORDS:
        at = lower.find(word)
        while at != -1:
            match = _NAMED_VALUE.match(lower, at)
            if match is not None:
                if not gated:
                    if _PASSABLE_NAMED_VALUE.search(lower) is None:
                        return set()
                    gated = True
                value = text[match.start(1) : match.end(1)]
                if value not in seen and _starts_name_word(lower, text, at) and not _identifier_name(lower, at):
                    if looks_like_key_value(value, rules):
                        return {"credential_assignment"}
                    seen.add(value)
            at = lower.find(word, at + len(word))
    return set()


# Passwords on a command line: curl -u user:pass, mysql -pPASS / --password=PASS, sshpass -p PASS, and .netrc's
# machine HOST [login USER] password PASS (also one entry per line). Each pattern comes with the part every match
# of it holds, a short regex with a literal start: a text without that part skips the pattern, whose lazy
# token skipping costs ~2 µs per command word ("curl -u a " x 400 took 0.8 ms).
_COMMAND_WORDS = frozenset({"curl", "mysql", "mysqldump", "mysqladmin", "sshpass", "machine"})
_COMMAND_PASSWORDS = tuple(
    (re.compile(part), re.compile(pattern))
    for part, pattern in (
        (
            r"-(?:u|-user)(?:[ \t]+|=)[\"']?[^\s:\"']+:[^\s\"']",
            r"\bcurl\b(?:[ \t]+\S+){0,12}?[ \t]+(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']+:([^\s\"']+)",
        ),
        (
            r"-(?:p|-password=)[\"']?[^\s\"']",
            r"\bmysql(?:dump|admin)?\b(?:[ \t]+\S+){0,12}?[ \t]+(?:-p|--password=)[\"']?([^\s\"']+)",
        ),
        (r"-p[ \t]*[\"']?[^\s\"']", r"\bsshpass\b(?:[ \t]+\S+){0,4}?[ \t]+-p[ \t]*[\"']?([^\s\"']+)"),
        (r"password\s+[^\s]", r"\bmachine\b(?:\s+\S+){1,3}?\s+password\s+([^\s]+)"),
    )
)


def _command_hits(views: TextViews, rules: SecretRules) -> set[str]:
    if _COMMAND_WORDS.isdisjoint(views.words):
        return set()
    for part, pattern in _COMMAND_PASSWORDS:
        if part.search(views.text) is None:
            continue
        for match in pattern.finditer(views.text):
            if looks_like_password(match.group(1), rules):
                return {"credential_in_command"}
    return set()


# A token holding NAME=value or NAME:value whose name ends in a credential word (GITHUB_TOKEN=..., x.api-key:...).
_KEYLIKE_NAME = re.compile(r"(?:key|token|secret|pass(?:word)?|pwd|pw|credentials?|auth)" + _ENCODING_SUFFIX + "$")


def _keylike_name(name: str) -> bool:
    lower = name.lower()
    match = _KEYLIKE_NAME.search(lower)
    return (
        match is not None
        and _starts_name_word(lower, name, match.start())
        and not _identifier_name(lower, match.start())
    )


# Every word _KEYLIKE_BEFORE can match contains one of these: a cheap test before the regex.
_KEYLIKE_WORDS = ("key", "token", "secret", "bearer", "authorization", "credential", "signature")
# Entropy is judged on a value's first characters: no key is longer, and a megabyte value costs no more.
_ENTROPY_PREFIX = 4096


def _entropy_hits(views: TextViews, rules: SecretRules) -> set[str]:
    offset = 0
    for token in views.long_tokens:
        at = views.text.find(token, offset)  # tokens come in text order: each search starts after the last
        offset = at + len(token)
        value = token.strip("\"'`,;()[]{}<>")
        name = ""
        if "=" in value[:-2] or ":" in value:  # KEY=value / key:value inside the token
            name, value = re.split(r"[=:]", value, maxsplit=1)
            value = value.strip("\"'")
        if not _keylike_name(name.strip("\"'")):
            window = views.lower[max(0, at - 30) : at]
            before = _KEYLIKE_BEFORE.search(window) if any(w in window for w in _KEYLIKE_WORDS) else None
            if before is None or _identifier_name(window, before.start()):
                continue
        if len(value) >= 16 and looks_high_entropy(value[:_ENTROPY_PREFIX], rules):
            return {"high_entropy_token"}
    return set()


def _extra_hits(views: TextViews, rules: SecretRules) -> set[str]:
    hits = set()
    if not views.long_text:
        return hits
    for name, pattern, gate in rules.extra_patterns:
        if gate is not None and gate not in views.long_text:
            continue
        target = views.long_text if gate is None else trigger_windows(views.long_text, views.long_text, (gate,), 512)
        match = pattern.search(target)
        if match is not None and not (name == "db_connection_string" and _url_password_placeholder(match, rules)):
            hits.add(name)
    return hits


def _url_password_placeholder(match: re.Match[str], rules: SecretRules) -> bool:
    credentials = match.group(0).split("://", 1)[1].rstrip("@")
    return is_placeholder(credentials.split(":", 1)[1], rules)


# Cookie, session and authorization headers in a pasted HTTP request or response. An Authorization header's
# credentials follow its scheme (Basic base64(user:password), Bearer, Token, Digest ...).
_COOKIE_HEADER = re.compile(r"(?im)^[ \t]*(?:set-)?cookie[ \t]*:[ \t]*([^\r\n]+)")
_AUTHORIZATION_HEADER = re.compile(
    r"(?im)(?:^|['\"])[ \t]*(?:proxy-)?authorization[ \t]*:[ \t]*(?:[a-z-]+[ \t]+)?(\S{12,})"
)


def _cookie_hits(views: TextViews, rules: SecretRules) -> set[str]:
    if "cookie" not in views.lower:
        return set()
    for match in _COOKIE_HEADER.finditer(views.text):
        for pair in match.group(1).split(";"):
            value = pair.partition("=")[2].strip()
            if len(value) >= 16 and looks_like_key_value(value, rules):
                return {"session_cookie"}
    return set()


def _authorization_hits(views: TextViews, rules: SecretRules) -> set[str]:
    if "authorization" not in views.lower:
        return set()
    for match in _AUTHORIZATION_HEADER.finditer(views.text):
        value = match.group(1).strip("\"',")
        if looks_like_key_value(value, rules) or looks_high_entropy(value, rules):
            return {"authorization_header"}
    return set()


# Private-key files whose headers detect-secrets 1.5 does not know (it has PuTTY's version 2 only).
_KEY_FILE_HEADERS = (("PuTTY-User-Key-File-", "Private-Lines:"),)


def _key_file_hits(views: TextViews) -> set[str]:
    for header, body in _KEY_FILE_HEADERS:
        if header in views.text and body in views.text:
            return {"private_key"}
    return set()


def find_secrets(text: str | TextViews, rules: SecretRules) -> set[str]:
    """Names of the secret detectors that fire on `text` (empty when none)."""
    views = text if isinstance(text, TextViews) else TextViews(text)
    return (
        _plugin_hits(views, rules)
        | _keyword_hits(views, rules)
        | _named_assignment_hits(views, rules)
        | _command_hits(views, rules)
        | _entropy_hits(views, rules)
        | _extra_hits(views, rules)
        | _cookie_hits(views, rules)
        | _authorization_hits(views, rules)
        | _key_file_hits(views)
    )
