"""Features of a prompt for the tier classifier: words, crude stems, word pairs, openers and shape signals.
Shared by training (router.train) and inference (router.classifier) so both see exactly the same features."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['+#][^\W_]*)*")
_CODE_CHARS = re.compile(r"[{}();=<>\[\]]")
HEAD_CHARS = 1500  # long prompts: the opening and the end carry the task; bounds the decision time
TAIL_CHARS = 500
STEM_LEN = 5


def words_of(text: str) -> list[str]:
    lower = text.lower()
    if len(lower) > HEAD_CHARS + TAIL_CHARS:
        lower = lower[:HEAD_CHARS] + " \n " + lower[-TAIL_CHARS:]
    return _WORD.findall(lower)


def _shape(text: str, n: int) -> list[str]:
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


def extract(text: str, words: list[str] | None = None) -> list[str]:
    words = words_of(text) if words is None else words
    features = _shape(text, len(words))
    if words:
        features.append("open:" + words[0])
        if len(words) > 1:
            features.append("open2:" + words[0] + " " + words[1])
    previous = None
    for word in words:
        features.append(word)
        if len(word) > STEM_LEN:
            features.append("s:" + word[:STEM_LEN])
        if previous is not None:
            features.append(previous + " " + word)
        previous = word
    return features
