"""Personal data detection: payment cards (Luhn), IBANs (checksum), national IDs, passports (python-stdnum),
phone numbers (phonenumbers), personal e-mail addresses. Returns detector names only, never the values.

Every number detector first looks at the text's numeric spans (router.textviews): prose without long numbers
costs one scan."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY
from stdnum import iban, luhn
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.us import ssn

from router.textviews import TextViews

_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
# Dotted groups (4111.1111.1111.1111, Amex 3782.822463.10005): only the card layouts, so decimals never match.
_DOTTED_CARD = re.compile(r"\d{4}\.\d{4}\.\d{4}\.\d{1,7}|\d{4}\.\d{6}\.\d{5}")
# An IBAN start (country code, check digits) and up to 30 following characters in groups; the IBAN itself is the
# prefix of that run that python-stdnum accepts (its length is fixed per country), so that words after it
# ("DE89 3704 0044 0532 0130 00 now") never decide the result.
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_IBAN_MIN, _IBAN_MAX = 15, 34
# Every IBAN has two letters then two digits. Looked for from the digits (rare in text, skipped in C), this costs
# a third of the IBAN pattern's pass, which tries every letter of the text.
_IBAN_CHECK_DIGITS = re.compile(r"\d\d(?<=[A-Z][A-Z]\d\d)")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
# Labels of national ID numbers (lower-cased); a label followed closely by a number with 5+ digits is a hit.
_ID_LABELS = (
    "ssn",
    "social security",
    "national id",
    "national identity",
    "national insurance",
    "nino",
    "sécurité sociale",
    "securite sociale",
    "nir",
    "insee",
    "bsn",
    "burgerservicenummer",
    "dni",
    "nie",
    "codice fiscale",
    "steuer-id",
    "steuerid",
    "steueridentifikationsnummer",
    "personnummer",
    "pesel",
    "aadhaar",
    "tax id",
    "tax identification number",
    "sin number",
    "id card number",
    "identity card",
)
_AFTER_LABEL = re.compile(r"[^\n\d]{0,25}?([a-z0-9][a-z0-9 .-]{5,22}[a-z0-9])")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_CF_CORE = re.compile(r"\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]")
_CODICE_FISCALE = re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b")
_DNI = re.compile(r"\b\d{8}-?[A-Z]\b")
_NIR = re.compile(r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b")
_PASSPORT_WORDS = ("passport", "passeport", "reisepass", "pasaporte", "passaporto")
# "passport number K4821937", "my passport number is X12345678", "Passport number: X 1234 5678".
_PASSPORT = re.compile(
    r"\b(?:passport|passeport|reisepass|pasaporte|passaporto)\b"
    r"(?:\s*(?:no\.?|number|num\.?|nr\.?|#|n°|nummer|numéro|número|numero))?"
    r"(?:\s*(?:(?:is|was|ist|est|es)\b|[=:#-]))?\s*([a-z0-9](?: ?[a-z0-9]){5,8})\b"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}\b")
# Documentation addresses (RFC 2606 / 6761): placeholders whatever the local part.
DOCUMENTATION_DOMAINS = frozenset({"example.com", "example.org", "example.net"})
RESERVED_TLDS = (".example", ".test", ".invalid", ".localhost")


@dataclass(frozen=True)
class PersonalRules:
    phone_region: str
    placeholder_domains: frozenset[str]
    placeholder_local_parts: frozenset[str]
    documentation_domains: frozenset[str] = DOCUMENTATION_DOMAINS
    reserved_tlds: tuple[str, ...] = RESERVED_TLDS

    @property
    def placeholder_suffixes(self) -> tuple[str, ...]:
        """placeholder_domains entries that start with a dot (.local) match every domain under them."""
        return tuple(d for d in self.placeholder_domains if d.startswith("."))


def _views(text: str | TextViews) -> TextViews:
    return text if isinstance(text, TextViews) else TextViews(text)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _bounded(text: str, start: int, end: int) -> bool:
    """The match is not part of a longer number or code."""
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "-")) and (
        end >= len(text) or not (text[end].isalnum() or text[end] == "-")
    )


def _card_candidates(views: TextViews, span_start: int, chunk: str) -> Iterator[tuple[int, int, str]]:
    for regex in (_CARD, _DOTTED_CARD):
        for match in regex.finditer(chunk):
            yield span_start + match.start(), span_start + match.end(), match.group(0)


# A 13-19 digit number written without groups in a maths question is a number, not a card: unless the text
# also speaks of cards or payments.
_MATHS_WORDS = frozenset(
    [
        "divisible",
        "prime",
        "factor",
        "factorise",
        "factorize",
        "compute",
        "calculate",
        "multiply",
        "divide",
        "digits",
        "modulo",
        "mod",
        "remainder",
        "gcd",
        "lcm",
        "division",
        "sum",
        "product",
        "square",
        "root",
    ]
)
_CARD_WORDS = frozenset(
    ["card", "visa", "mastercard", "amex", "credit", "debit", "cvv", "cvc", "expiry", "pay", "charge", "billing"]
)


def _maths_number(views: TextViews, value: str) -> bool:
    return value.isdigit() and not _MATHS_WORDS.isdisjoint(views.words) and _CARD_WORDS.isdisjoint(views.words)


def has_payment_card(text: str | TextViews) -> bool:
    views = _views(text)
    for span in views.numeric_spans:
        if span.digits < 13:
            continue
        chunk = views.text[span.start : span.end]
        for start, end, value in _card_candidates(views, span.start, chunk):
            if (start and views.text[start - 1] in ".,-") or (end < len(views.text) and views.text[end] in "-"):
                continue  # part of a decimal, a version or a dash-separated code
            if (start and views.text[start - 1].isalpha()) or (end < len(views.text) and views.text[end].isalpha()):
                continue  # digits inside a hex string, a key or an identifier
            if end + 1 < len(views.text) and views.text[end] == "." and views.text[end + 1].isdigit():
                continue  # a longer dotted number (an OID, a version)
            number = _digits(value)
            if number[0] in "23456" and luhn.is_valid(number) and not _maths_number(views, value):
                return True
    return False


def has_iban(text: str | TextViews) -> bool:
    views = _views(text)
    if views.max_digits < 8:
        return False
    # Upper-cased: an IBAN typed in lower case (de89 3704 ...) is the same account.
    upper = views.text.upper()
    if _IBAN_CHECK_DIGITS.search(upper) is None:
        return False
    return any(_iban_prefix(m.group(0)) for m in _IBAN.finditer(upper))


def _iban_prefix(run: str) -> bool:
    """Some prefix of `run` is a valid IBAN (python-stdnum checks the country's length, layout and checksum):
    at most 20 tests per candidate."""
    compact = run.replace(" ", "")
    return any(iban.is_valid(compact[:n]) for n in range(_IBAN_MIN, min(len(compact), _IBAN_MAX) + 1))


_LABEL_FIRST_WORDS = {label: re.split(r"[^\w]+", label)[0] for label in _ID_LABELS}


def _labelled_id(views: TextViews) -> bool:
    """A labelled number counts even when a validator rejects it (e.g. a published SSN)."""
    lower = views.lower
    for label, first_word in _LABEL_FIRST_WORDS.items():
        if first_word not in views.words:
            continue
        at = lower.find(label)
        while at != -1:
            end = at + len(label)
            if _bounded(lower, at, end):
                match = _AFTER_LABEL.match(lower, end)
                if match and sum(c.isdigit() for c in match.group(1)) >= 5:
                    return True
            at = lower.find(label, end)
    return False


_CF_TOKEN_MAX = 24  # a codice fiscale (16 characters) with punctuation around it


def _codice_fiscale(views: TextViews) -> bool:
    # A codice fiscale is one 16-character token (e.g. RSSMRA85T10A562S): only tokens of about that length can
    # hold one.
    tokens = " ".join(t for t in views.long_tokens if len(t) <= _CF_TOKEN_MAX)
    if not tokens or _CF_CORE.search(tokens) is None:
        return False
    return any(codicefiscale.is_valid(m.group(0)) for m in _CODICE_FISCALE.finditer(tokens))


def _in_spans(views: TextViews, pattern: re.Pattern[str], digits: int, after: int = 0) -> Iterator[re.Match[str]]:
    """Matches of a number pattern inside the numeric spans of 'digits'+ digits (plus `after` characters: a
    DNI's letter): a megabyte of text with few long numbers costs a few short searches."""
    for span in views.numeric_spans:
        if span.digits >= digits:
            start = max(0, span.start - 1)  # the character before, for the pattern's word boundary
            yield from pattern.finditer(views.text, start, min(len(views.text), span.end + after + 1))


# A NINO's six digits (AB 12 34 56 C) are one numeric span, preceded by its two letters: it is looked for there,
# not in the whole text.
_NINO_BEFORE, _NINO_AFTER = 3, 11
# A NIR (1 85 05 78 006 084 36) starts in a numeric span that holds its 15 digits or, in Corsica (département
# 2A / 2B), in one that ends with the 2 before the letter (the rest is the next span). It is looked for from those
# spans only, up to the longest NIR past their end. The whole-text pass this replaces asked for 13 digits in one
# span, which let every Corsican NIR through.
_NIR_SPAN_DIGITS = 13
_NIR_CHARS = 22


def _nino(views: TextViews) -> bool:
    text = views.text
    return any(
        _NINO.search(text, max(0, span.start - _NINO_BEFORE), min(len(text), span.start + _NINO_AFTER)) is not None
        for span in views.numeric_spans
        if span.digits >= 6
    )


def _nir_windows(views: TextViews) -> list[tuple[int, int]]:
    """Windows of the text where a NIR can be, merged where they overlap (so that no match is cut in two)."""
    text = views.text
    corsica = "2A" in text or "2B" in text
    windows: list[tuple[int, int]] = []
    for span in views.numeric_spans:
        if span.digits < _NIR_SPAN_DIGITS and not (
            corsica and text[span.end - 1] == "2" and text[span.end : span.end + 1] in ("A", "B")
        ):
            continue
        start, end = max(0, span.start - 1), min(len(text), span.end + _NIR_CHARS)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def _nir(views: TextViews) -> bool:
    return any(
        nir.is_valid(match.group(0))
        for start, end in _nir_windows(views)
        for match in _NIR.finditer(views.text, start, end)
    )


def has_national_id(text: str | TextViews) -> bool:
    views = _views(text)
    top = views.max_digits
    if top >= 9 and any(
        _bounded(views.text, *m.span()) and ssn.is_valid(m.group(0)) for m in _in_spans(views, _SSN, 9)
    ):
        return True
    if top >= 5 and _labelled_id(views):
        return True
    if top >= 6 and _nino(views):
        return True
    if top >= 6 and _nir(views):  # a Corsican NIR's first span has 6 digits
        return True
    if top >= 8 and any(dni.is_valid(m.group(0)) for m in _in_spans(views, _DNI, 8, after=2)):
        return True
    return _codice_fiscale(views)


def has_passport(text: str | TextViews) -> bool:
    views = _views(text)
    if not any(word in views.lower for word in _PASSPORT_WORDS):
        return False
    return any(_passport_number(m.group(1)) for m in _PASSPORT.finditer(views.lower))


def _passport_number(value: str) -> bool:
    """A passport number has a digit; one written in groups (X 1234 5678) has 5+, so that prose after the
    word ("passport photo 2 inches") is not taken for one."""
    digits = sum(c.isdigit() for c in value)
    return digits >= 5 if " " in value else digits >= 1


def _phone_candidates(views: TextViews) -> Iterator[str]:
    """Strings that may be one phone number: numeric spans of 7-15 digits (with a leading + or parenthesis),
    and the trailing groups of longer or mixed spans ("room 12 555-123-4567"). Dates are skipped."""
    text = views.text
    for span in views.numeric_spans:
        if span.digits < 7:
            continue
        raw = text[span.start : span.end]
        if _DATE.match(raw):
            continue
        prefix = text[span.start - 1] if span.start and text[span.start - 1] in "+(" else ""
        if span.digits <= 15:
            yield prefix + raw
        groups = raw.split()
        for k in range(1, min(len(groups), 8)):
            tail = " ".join(groups[k:])
            if 7 <= sum(c.isdigit() for c in tail) <= 15:
                yield tail


def has_phone_number(text: str | TextViews, region: str) -> bool:
    """Parsed and validated by phonenumbers (numbers without +country code are read for `region`)."""
    seen: set[str] = set()  # a table repeating a number parses it once
    for candidate in _phone_candidates(_views(text)):
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if _valid_length(number) and phonenumbers.is_valid_number(number):
            return True
    return False


@functools.lru_cache(maxsize=512)
def _lengths_for_code(country_code: int) -> frozenset[int] | None:
    """Every national-number length valid in some region of a calling code (None: some region sets no length)."""
    lengths: set[int] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        if region == REGION_CODE_FOR_NON_GEO_ENTITY:
            metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(country_code)
        else:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if not metadata.general_desc.possible_length:
            return None
        lengths.update(metadata.general_desc.possible_length)
    return frozenset(lengths)


def _valid_length(number: phonenumbers.PhoneNumber) -> bool:
    """is_valid_number rejects a national number whose length no region of its calling code allows (its first
    test): checked here first, since is_valid_number's region lookup costs ~50 µs (NANP has 25 regions)."""
    lengths = _lengths_for_code(number.country_code)
    return lengths is None or len(phonenumbers.national_significant_number(number)) in lengths


def is_placeholder_email(address: str, rules: PersonalRules) -> bool:
    """Documentation domains (example.com/.org/.net, the reserved TLDs .example, .test, .invalid, .localhost)
    never hold a real mailbox; other placeholder domains (company.com, ...) count with a generic local part."""
    local, _, domain = address.lower().rpartition("@")
    if domain in rules.documentation_domains or domain.endswith(rules.reserved_tlds):
        return True
    generic = local in rules.placeholder_local_parts or local.split("+")[0] in rules.placeholder_local_parts
    placeholder_domain = domain in rules.placeholder_domains or domain.endswith(rules.placeholder_suffixes)
    return (placeholder_domain and generic) or local in {"noreply", "no-reply", "donotreply", "postmaster"}


def has_personal_email(text: str | TextViews, rules: PersonalRules) -> bool:
    views = _views(text)
    if "@" not in views.text:
        return False
    for match in _EMAIL.finditer(views.text):
        token_start = views.text.rfind(" ", 0, match.start()) + 1
        if "://" in views.text[token_start : match.start()]:
            continue  # user:password@host inside a URL (the secret detectors judge it), not an address
        if not is_placeholder_email(match.group(0), rules):
            return True
    return False


def find_personal_data(text: str | TextViews, rules: PersonalRules) -> set[str]:
    views = _views(text)
    checks = (
        ("payment_card", has_payment_card(views)),
        ("iban", has_iban(views)),
        ("national_id", has_national_id(views)),
        ("passport", has_passport(views)),
        ("phone_number", has_phone_number(views, rules.phone_region)),
        ("personal_email", has_personal_email(views, rules)),
    )
    return {name for name, hit in checks if hit}
