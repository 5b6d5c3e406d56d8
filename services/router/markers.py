"""Explicit privacy markers ("confidential", "keep this local") and health details tied to a person."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from router.textviews import TextViews

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
_NOT_NAME_WORDS = """
    The This That What When Where Which Write Please Explain Tell Give Help Make Create Draft How Why
    Can Could Would Should Dear Hello Thanks Compare Describe Summarize Summarise List New York United
    States Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May
    June July August September October November December
    """
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())


_SPECIAL = set("\\.^$*+?{}[]|()")


def literal_gate(pattern: str) -> str | None:
    """The longest literal run every match of `pattern` must contain (outside groups, before no quantifier):
    a cheap `in` test that skips the regex for almost every prompt."""
    runs: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            runs.append("".join(current))
            current = []
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and ch not in _SPECIAL:
            current.append(ch)
        else:
            if ch in "?*{" and current:
                current.pop()
            runs.append("".join(current))
            current = []
        i += 1
    runs.append("".join(current))
    best = max((r.strip() for r in runs), key=len, default="")
    return best if len(best) >= 3 else None


def _whole_word_gate(pattern: str, gate: str) -> bool:
    """The gate is a complete word of every match (so a word-set lookup can replace the substring search)."""
    at = pattern.find(gate)
    before_ok = at == 0 or pattern[at - 1] == " "
    after = at + len(gate)
    after_ok = after == len(pattern) or pattern[after] == " "
    return at >= 0 and before_ok and after_ok and gate.isalpha()


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what the regex engine calls \w in a str


def at_word_boundary(text: str, at: int) -> bool:
    """What \\b asserts at `at`: a word character on one side only."""
    before = at > 0 and _is_word_char(text[at - 1])
    after = at < len(text) and _is_word_char(text[at])
    return before != after


@dataclass(frozen=True)
class Term:
    gate: str | None
    word_gate: bool
    pattern: re.Pattern[str]  # the term and (?!\w); the leading \b is tested in finditer

    def possible(self, views: TextViews) -> bool:
        if self.gate is None:
            return True
        return self.gate in views.words if self.word_gate else self.gate in views.lower

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The matches of \\b(?:term)(?!\\w), as finditer yields them. The \\b is tested here, on each match, so
        that the regex starts with the term's literal text and the engine skips to it in C (~10x faster than
        trying the boundary at every character of a long prompt); a match that fails it is retried one
        character on, where the regex with \\b would have gone on looking."""
        search = self.pattern.search
        match = search(text)
        while match is not None:
            start, end = match.span()
            if at_word_boundary(text, start):
                yield match
                match = search(text, end if end > start else start + 1)
            else:
                match = search(text, start + 1)


class TermSet:
    """Word-bounded regex terms, each behind its literal gate; matched on lower-cased text. Whole-word gates
    are looked up in the text's word set at once; the others are substring tests."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self.terms = tuple(terms)
        self._by_word: dict[str, list[Term]] = {}
        for term in self.terms:
            if term.word_gate and term.gate:
                self._by_word.setdefault(term.gate, []).append(term)
        self._word_gates = frozenset(self._by_word)
        self._others = tuple(t for t in self.terms if not (t.word_gate and t.gate))

    def finditer(self, views: TextViews) -> Iterator[re.Match[str]]:
        for gate in self._word_gates & views.words:
            for term in self._by_word[gate]:
                yield from term.finditer(views.lower)
        for term in self._others:
            if term.possible(views):
                yield from term.finditer(views.lower)

    def search(self, views: TextViews) -> bool:
        return any(True for _ in self.finditer(views))


def compile_terms(terms: Iterable[str]) -> TermSet | None:
    compiled = []
    for term in terms:
        pattern = term.lower().strip()
        if pattern:
            gate = literal_gate(pattern)
            word_gate = gate is not None and _whole_word_gate(pattern, gate)
            compiled.append(Term(gate, word_gate, re.compile(r"(?:" + pattern + r")(?!\w)")))
    return TermSet(compiled) if compiled else None


compile_markers = compile_terms
compile_health = compile_terms


_PERSON_RE = re.compile(_PERSON)
# The user about themselves, right before the health term: "I was diagnosed", "my insulin", "I'm on antidepressants".
_FIRST_PERSON_BEFORE = re.compile(
    r"(?i)\b(?:I(?:'m| am| was| have been| got| have|'ve been|'ve)|my)\b(?:\s+\S+){0,3}\s*$"
)
_SENTENCE_END = re.compile(r"[!?\n]|(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bMx)(?<!\bDr)(?<!\bProf)\.")


_SENTENCE_END_CHARS = "!?\n."  # every match of _SENTENCE_END is one of these (a "." after Mr, Dr ... is not)


def _last_sentence_end(text: str, low: int, high: int) -> int | None:
    """Where the last match of _SENTENCE_END in text[low:high] starts (None: none). Found from the end with
    str.rfind instead of a regex pass over every character: MMLU-style prompts hold dozens of full stops."""
    while high > low:
        at = max(text.rfind(char, low, high) for char in _SENTENCE_END_CHARS)
        if at < 0:
            return None
        if _SENTENCE_END.match(text, at):
            return at
        high = at
    return None


def _first_sentence_end(text: str, low: int, high: int) -> int | None:
    """Where the first match of _SENTENCE_END in text[low:high] starts (None: none)."""
    while low < high:
        found = [at for at in (text.find(char, low, high) for char in _SENTENCE_END_CHARS) if at >= 0]
        if not found:
            return None
        at = min(found)
        if _SENTENCE_END.match(text, at):
            return at
        low = at + 1
    return None


def _sentence_around(text: str, start: int, end: int) -> str:
    last = _last_sentence_end(text, max(0, start - 300), start)
    left = 0 if last is None else last + 1
    right = _first_sentence_end(text, end, end + 300)
    return text[max(left, start - 300) : right if right is not None else end + 300]


def _names_a_person(sentence: str) -> bool:
    for match in _PERSON_RE.finditer(sentence):
        first = match.group(0).split(" ", 1)[0]
        if first not in _NOT_NAMES:
            return True
    return False


def has_health_detail_about_person(text: str | TextViews, health: TermSet | None) -> bool:
    if health is None:
        return False
    views = text if isinstance(text, TextViews) else TextViews(text)
    text = views.text
    judged: set[str] = set()  # sentences that name nobody: several health terms in one are read once
    for match in health.finditer(views):
        if _FIRST_PERSON_BEFORE.search(text, max(0, match.start() - 40), match.start()):
            return True
        sentence = _sentence_around(text, match.start(), match.end())
        if sentence not in judged:
            if _names_a_person(sentence):
                return True
            judged.add(sentence)
    return False


def has_marker(text: str | TextViews, markers: TermSet | None) -> bool:
    views = text if isinstance(text, TextViews) else TextViews(text)
    return markers is not None and markers.search(views)
