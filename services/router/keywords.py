"""Word-boundary keyword rules from routing.yaml: "hi" no longer fires inside "this", nor "chat" in "chatbot".

Entries are words or phrases (no regexes): words are looked up in the prompt's word set, phrases are found in the
lower-cased text and checked for word boundaries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from router.features import words_of

MAX_COUNTED = 2


def _bounded(text: str, start: int, end: int) -> bool:
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_+#")) and (
        end >= len(text) or not (text[end].isalnum() or text[end] in "_+#")
    )


def contains_phrase(lower: str, phrase: str) -> bool:
    at = lower.find(phrase)
    while at != -1:
        if _bounded(lower, at, at + len(phrase)):
            return True
        at = lower.find(phrase, at + 1)
    return False


class KeywordRules:
    def __init__(self, keywords: Mapping[str, Sequence[str]]) -> None:
        self._words: dict[str, frozenset[str]] = {}
        self._phrases: dict[str, tuple[str, ...]] = {}
        for tier, entries in keywords.items():
            lowered = [str(e).lower().strip() for e in entries]
            single = [e for e in lowered if e and " " not in e and words_of(e) == [e]]
            self._words[tier] = frozenset(single)
            self._phrases[tier] = tuple(e for e in lowered if e and e not in single)

    def matches(self, text: str, words: Iterable[str] | None = None) -> dict[str, int]:
        """Distinct keywords per tier found in text (capped); `words` = the text's words (router.features)."""
        word_set = set(words if words is not None else words_of(text))
        lower = text.lower()
        counts = {}
        for tier, plain in self._words.items():
            found = len(plain & word_set)
            if found < MAX_COUNTED:
                found += sum(1 for phrase in self._phrases[tier] if contains_phrase(lower, phrase))
            if found:
                counts[tier] = min(found, MAX_COUNTED)
        return counts
