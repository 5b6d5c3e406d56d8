"""Explicit privacy markers ("confidential", "keep this local") and health details tied to a person."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Someone identifiable: an honorific or a full name, a "patient"/"named" mention, a relative, or the user.
_PERSON = (
    r"(?:\b(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.? [A-Z][a-z]+"
    r"|\b[A-Z][a-z]{2,} (?:[A-Z]\. )?[A-Z][a-z]{2,}\b"
    r"|\b(?:patient|client|employee|named|called) [A-Z][a-z]+"
    r"|(?i:\b(?:my|our|his|her|their) (?:wife|husband|partner|son|daughter|child|kid|mother|mom|mum|father|dad"
    r"|brother|sister|grandmother|grandma|grandfather|grandpa|aunt|uncle|cousin|friend|colleague|coworker|boss"
    r"|employee|patient|client|neighbou?r|girlfriend|boyfriend|fianc[ée]e?)\b))"
)
# Capitalised pairs that are not people (sentence openers followed by a title-cased word).
_NOT_NAMES = frozenset(
    "The This That What When Where Which Write Please Explain Tell Give Help Make Create Draft How Why Can Could "
    "Would Should Dear Hello Thanks Compare Describe Summarize Summarise List New York United States Monday "
    "Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December".split()
)


def compile_markers(markers: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [f"(?:{m})" for m in markers]
    return re.compile(r"(?i)\b(?:" + "|".join(alternatives) + r")(?!\w)") if alternatives else None


def compile_health(terms: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [f"(?:{t})" for t in terms]
    return re.compile(r"(?i)\b(?:" + "|".join(alternatives) + r")\b") if alternatives else None


_PERSON_RE = re.compile(_PERSON)
# The user about themselves, right before the health term: "I was diagnosed", "my insulin", "I'm on antidepressants".
_FIRST_PERSON_BEFORE = re.compile(r"(?i)\b(?:I(?:'m| am| was| have been| got| have|'ve been|'ve)|my)\b(?:\s+\S+){0,3}\s*$")
_SENTENCE_END = re.compile(r"[.!?\n]")


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _SENTENCE_END.finditer(text, max(0, start - 300), start)), default=0)
    right_match = _SENTENCE_END.search(text, end, end + 300)
    return text[max(left, start - 300) : right_match.start() if right_match else end + 300]


def _names_a_person(sentence: str) -> bool:
    for match in _PERSON_RE.finditer(sentence):
        first = match.group(0).split(" ", 1)[0]
        if first not in _NOT_NAMES:
            return True
    return False


def has_health_detail_about_person(text: str, health: re.Pattern[str] | None) -> bool:
    if health is None:
        return False
    for match in health.finditer(text):
        if _FIRST_PERSON_BEFORE.search(text, max(0, match.start() - 40), match.start()):
            return True
        if _names_a_person(_sentence_around(text, match.start(), match.end())):
            return True
    return False


def has_marker(text: str, markers: re.Pattern[str] | None) -> bool:
    return markers is not None and markers.search(text) is not None
