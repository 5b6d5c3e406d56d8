"""Features of a prompt for the tier classifier: words, crude stems, word pairs, openers and shape signals.
Shared by training (router.train) and inference (router.classifier) so both see exactly the same features."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['+#][^\W_]*)*")
_CODE_CHARS = re.compile(r"[{}();=<>\[\]]")
MAX_WORDS = 400  # long prompts: the opening and the end carry the task; keeps decisions fast
STEM_LEN = 5


def _words(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    if len(words) > MAX_WORDS:
        words = words[: MAX_WORDS // 2] + words[-MAX_WORDS // 2 :]
    return words


def _shape(text: str, words: list[str]) -> list[str]:
    n = len(words)
    length = "1" if n <= 2 else "3" if n <= 5 else "8" if n <= 12 else "20" if n <= 25 else "60" if n <= 60 else "more"
    shape = [f"len:{length}"]
    if "```" in text or "\n    " in text or "\n\t" in text:
        shape.append("shape:code_block")
    code_chars = len(_CODE_CHARS.findall(text[:2000]))
    if code_chars >= 6:
        shape.append("shape:code_chars")
    if text.count("\n") >= 3:
        shape.append("shape:multiline")
    if text.rstrip().endswith("?"):
        shape.append("shape:question")
    return shape


def extract(text: str) -> list[str]:
    words = _words(text)
    features = _shape(text, words)
    if words:
        features.append("open:" + words[0])
        if len(words) > 1:
            features.append("open2:" + words[0] + " " + words[1])
    for i, word in enumerate(words):
        features.append(word)
        if len(word) > STEM_LEN:
            features.append("s:" + word[:STEM_LEN])
        if i:
            features.append(words[i - 1] + " " + word)
    return features
