"""Personal data detection: payment cards (Luhn), IBANs (checksum), national IDs, passports (python-stdnum),
phone numbers (phonenumbers), personal e-mail addresses. Returns detector names only, never the values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.us import ssn

_CARD = re.compile(r"(?<![\d.,-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_ID_CONTEXT = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?|national (?:id|identity|insurance)(?: number| no\.?)?"
    r"|nino|n°? ?de s[ée]curit[ée] sociale|num[ée]ro de s[ée]curit[ée] sociale|nir|insee|bsn|burgerservicenummer"
    r"|dni|nie|codice fiscale|steuer-?id|steueridentifikationsnummer|personnummer|pesel|aadhaar"
    r"|tax (?:id|identification number)|sin number|id card number|identity card)\b[^\n\d]{0,25}"
    r"([A-Z0-9][A-Z0-9 .-]{5,22}[A-Z0-9])"
)
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_CODICE_FISCALE = re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b")
_DNI = re.compile(r"\b\d{8}-?[A-Z]\b")
_NIR = re.compile(r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b")
_PASSPORT = re.compile(
    r"(?i)\b(?:passport|passeport|reisepass|pasaporte|passaporto)\b(?:\s*(?:no\.?|number|num\.?|nr\.?|#|n°))?"
    r"[\s:#]{0,3}([A-Z0-9]{6,9})\b"
)
_PHONE_GATE = re.compile(r"(?:\+|\b)\d[\d ().-]{6,18}\d\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_RESERVED_TLDS = (".example", ".test", ".invalid", ".localhost", ".local")


@dataclass(frozen=True)
class PersonalRules:
    phone_region: str
    placeholder_domains: frozenset[str]
    placeholder_local_parts: frozenset[str]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def has_payment_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        number = _digits(match.group(0))
        if 13 <= len(number) <= 19 and luhn.is_valid(number):
            return True
    return False


def has_iban(text: str) -> bool:
    return any(iban.is_valid(m.group(0)) for m in _IBAN.finditer(text))


def has_national_id(text: str) -> bool:
    if any(ssn.is_valid(m.group(0)) for m in _SSN.finditer(text)):
        return True
    for match in _ID_CONTEXT.finditer(text):  # a labelled number counts even when a validator rejects it
        if sum(c.isdigit() for c in match.group(1)) >= 5:
            return True
    return (
        _NINO.search(text) is not None
        or any(codicefiscale.is_valid(m.group(0)) for m in _CODICE_FISCALE.finditer(text))
        or any(dni.is_valid(m.group(0)) for m in _DNI.finditer(text))
        or any(nir.is_valid(m.group(0)) for m in _NIR.finditer(text))
    )


def has_passport(text: str) -> bool:
    return any(any(c.isdigit() for c in m.group(1)) for m in _PASSPORT.finditer(text))


def has_phone_number(text: str, region: str) -> bool:
    for gate in _PHONE_GATE.finditer(text):
        window = text[max(0, gate.start() - 4) : gate.end() + 1]
        for _ in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
            return True
    return False


def is_placeholder_email(address: str, rules: PersonalRules) -> bool:
    local, _, domain = address.lower().rpartition("@")
    documentation = domain in rules.placeholder_domains or domain.endswith(_RESERVED_TLDS)
    generic = local in rules.placeholder_local_parts or local.split("+")[0] in rules.placeholder_local_parts
    return (documentation and generic) or local in {"noreply", "no-reply", "donotreply", "postmaster"}


def has_personal_email(text: str, rules: PersonalRules) -> bool:
    return any(not is_placeholder_email(m.group(0), rules) for m in _EMAIL.finditer(text))


def find_personal_data(text: str, rules: PersonalRules) -> set[str]:
    checks: Iterable[tuple[str, bool]] = (
        ("payment_card", any(c.isdigit() for c in text) and has_payment_card(text)),
        ("iban", has_iban(text)),
        ("national_id", has_national_id(text)),
        ("passport", has_passport(text)),
        ("phone_number", has_phone_number(text, rules.phone_region)),
        ("personal_email", "@" in text and has_personal_email(text, rules)),
    )
    return {name for name, hit in checks if hit}
