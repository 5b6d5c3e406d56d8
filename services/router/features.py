"""Features of a prompt for the tier classifier: words, crude stems, word pairs, openers and shape signals.
Shared by training (router.train) and inference (router.classifier) so both see exactly the same features."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['+#][^\W_]*)*")
# The same words on ASCII text, where [^\W_] is [A-Za-z0-9]: a character-set test instead of a Unicode category
# lookup per character (~25% faster on the hot path).
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+(?:['+#][A-Za-z0-9]*)*")
_CODE_CHARS = re.compile(r"[{}();=<>\[\]]")
HEAD_CHARS = 1000  # long prompts: the opening and the end carry the task; bounds the decision time
TAIL_CHARS = 300
STEM_LEN = 5


def words_of(text: str) -> list[str]:
    lower = text.lower()
    if len(lower) > HEAD_CHARS + TAIL_CHARS:
        lower = lower[:HEAD_CHARS] + " \n " + lower[-TAIL_CHARS:]
    return (_ASCII_WORD if lower.isascii() else _WORD).findall(lower)


def shape_features(text: str, n: int) -> list[str]:
    length = "1" if n <= 2 else "3" if n <= 5 else "8" if n <= 12 else "20" if n <= 25 else "60" if n <= 60 else "more"
    shape = [f"len:{length}"]
    if "```" in text or "\n    " in text or "\n\t" in text:
        shape.append("shape:code_block")
    if len(_CODE_CHARS.findall(text, 0, HEAD_CHARS)) >= 6:
        shape.append("shape:code_chars")
    if text.count("\n") >= 3:
        shape.append("shape:multiline")
    if text.rstrip().endswith("?"):
        shape.append("shape:question")
    return shape


def opener_features(words: list[str]) -> list[str]:
    if not words:
        return []
    if len(words) == 1:
        return ["open:" + words[0]]
    return ["open:" + words[0], "open2:" + words[0] + " " + words[1]]


def extract(text: str, words: list[str] | None = None) -> list[str]:
    """Every feature of a prompt, in order (router.classifier sums their weights without building this list)."""
    words = words_of(text) if words is None else words
    features = shape_features(text, len(words)) + opener_features(words)
    previous = None
    for word in words:
        features.append(word)
        if len(word) > STEM_LEN:
            features.append("s:" + word[:STEM_LEN])
        if previous is not None:
            features.append(previous + " " + word)
        previous = word
    return features
