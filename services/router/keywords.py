"""Word-boundary keyword rules from routing.yaml: "hi" no longer fires inside "this", nor "chat" in "chatbot"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

MAX_COUNTED = 2


class KeywordRules:
    def __init__(self, keywords: Mapping[str, Sequence[str]]) -> None:
        self._patterns = {
            tier: re.compile(r"(?i)(?<![\w+#])(?:" + "|".join(f"(?:{w})" for w in words) + r")(?![\w+#])")
            for tier, words in keywords.items()
            if words
        }

    def matches(self, text: str) -> dict[str, int]:
        """Distinct keywords per tier found in text (capped)."""
        counts = {}
        for tier, pattern in self._patterns.items():
            found = {m.group(0).lower() for m in pattern.finditer(text)}
            if found:
                counts[tier] = min(len(found), MAX_COUNTED)
        return counts
