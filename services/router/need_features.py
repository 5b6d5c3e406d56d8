"""Features of a request for the need model (router.need): request shape signals (length, structure, code,
maths, multi-step asks, conversation depth), the shape of an options block (short trailing lines: the choices a
user offers), and reading level (word length, rare long words, capitalised names, symbols), each about 0..1.

Shared by training (router.train, through scikit-learn's DictVectorizer) and inference (router.need), so both see
exactly the same features. Nothing here names a benchmark's format: multiple-choice labels ("A. ...", "Answer:")
are removed from training prompts by router.need_data before they reach this module."""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"\d+")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*•]|\d+[.)])[ \t]", re.M)
# Plain substring counts (str.count runs in C; a regex alternation with word boundaries cost ~10x more).
_MATH_MARKS = ("=", "+", "*", "/", "^", "<", ">", "≤", "≥", "∑", "∫", "√", "π", "sqrt", "log(", "sin(", "cos(")
_CODE_MARKS = ("```", "def ", "class ", "function", "return", "=>", "::", "();", "{\n", ";\n", "()", "import ")
_STEP_MARKS = tuple(
    f" {cue} "
    for cue in (
        "then",
        "after that",
        "next",
        "finally",
        "step",
        "steps",
        "first",
        "second",
        "third",
        "each",
        "every",
        "both",
        "respectively",
        "if and only if",
        "assuming",
        "given that",
        "suppose",
        "prove",
        "show that",
        "derive",
        "explain why",
        "how many",
        "calculate",
        "compute",
    )
)
_NUMERIC_OPTION = re.compile(r"^[\s$€£(]*[-+]?\d[\d,.\s/%^\u00d7x*+\-e]*[A-Za-z%/°²³ ]{0,12}\.?$")
# Names and terms, not sentence openings. The capital comes first and the context is looked behind it, so the
# engine jumps from capital to capital instead of testing three lookbehinds at every character.
_CAPITALISED = re.compile(r"[A-Z](?<=\b[A-Z])(?<![.?!]\s[A-Z])(?<!^[A-Z])[a-z]+")
_WORD = re.compile(r"[A-Za-z]+")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_SYMBOLS = tuple("()[]{}=+-*/^<>|$\\_")
_NOT_ASCII_UPPER = bytes(b for b in range(256) if not 65 <= b <= 90)  # deleted to count A-Z in C
OPTION_CHARS = 300  # a trailing line longer than this is part of the ask, not one of the options offered
MAX_OPTIONS = 6
LONG_WORD = 9  # letters: a word this long is mostly a technical term
HEAD_CHARS = 1000  # long prompts: the opening and the end carry the task; bounds the decision time
TAIL_CHARS = 300


def _clip(text: str) -> str:
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    return text


def _squash(count: int, scale: float) -> float:
    """A count as 0..1 that keeps growing slowly (log), so one long prompt cannot dominate the sum."""
    return min(1.0, math.log1p(count) / math.log1p(scale))


def _first_line_length(text: str) -> int:
    end = text.find("\n")
    return len(text) if end < 0 else end


def split_options(text: str) -> tuple[str, list[str]]:
    """The ask and the short trailing lines after it (the options a user lists), or the whole text and []."""
    lines = [line for line in text.split("\n") if line.strip()]
    options: list[str] = []
    while len(lines) > 1 and len(options) < MAX_OPTIONS and len(lines[-1]) <= OPTION_CHARS:
        options.insert(0, lines.pop())
    if len(options) < 2:
        return text, []
    return "\n".join(lines), options


def options_block(options: list[str]) -> dict[str, float]:
    """How the offered options look: long sentences, numbers, single words or pairs ("Wrong, Not wrong") and how
    uneven they are. These carry over between domains, unlike the options' words."""
    if not options:
        return {}
    count = len(options)
    lengths = [len(option) for option in options]
    mean = sum(lengths) / count
    spread = (sum((length - mean) ** 2 for length in lengths) / count) ** 0.5
    return {
        "f:option_chars": _squash(round(mean), 200),
        "f:option_spread": min(1.0, spread / max(1.0, mean)),
        "f:option_numeric": sum(bool(_NUMERIC_OPTION.match(o.strip())) for o in options) / count,
        "f:option_one_word": sum(len(o.split()) == 1 for o in options) / count,
        "f:option_sentence": sum(o.rstrip().endswith(".") and len(o.split()) > 3 for o in options) / count,
        "f:option_pair": sum(o.count(",") == 1 and len(o) < 30 for o in options) / count,
    }


def _uppercase(text: str) -> int:
    """Upper-case characters; ASCII text (most requests) is counted by bytes.translate instead of a call a char."""
    if text.isascii():
        return len(text.encode("ascii").translate(None, _NOT_ASCII_UPPER))
    return sum(map(str.isupper, text))


def reading_level(ask: str, clipped: str) -> dict[str, float]:
    """Vocabulary-free reading level: technical terms (long words), names, symbols, sentences and variety."""
    words = _WORD.findall(clipped)
    count = max(1, len(words))
    size = max(1, len(clipped))
    lower = " " + ask.lower().replace("\n", " ") + " "
    return {
        "f:words": _squash(len(words), 600),
        "f:long_words": sum(len(word) >= LONG_WORD for word in words) / count,
        "f:word_variety": len(set(map(str.lower, words))) / count,
        "f:capitalised": len(_CAPITALISED.findall(ask)) / max(1, len(words if ask is clipped else _WORD.findall(ask))),
        "f:uppercase": _uppercase(clipped) / size,
        "f:symbols": sum(map(clipped.count, _SYMBOLS)) / size,
        "f:sentences": _squash(len(_SENTENCE_END.findall(ask)), 20),
        "f:ends_with_question": float(ask.rstrip().endswith("?")),
        "f:second_person": float(" you " in lower or " your " in lower),
        "f:statements": float("statement 1" in lower),
    }


def shape(text: str, turns: int) -> dict[str, float]:
    """Request signals that do not depend on vocabulary: they carry over to domains never seen in training."""
    clipped = _clip(text)
    lower = " " + clipped.lower().replace("\n", " ") + " "
    return {
        "f:chars": _squash(len(text), 4000),
        "f:task_chars": _squash(_first_line_length(text), 2000),  # the ask itself, before data or options
        "f:lines": _squash(text.count("\n"), 60),
        "f:numbers": _squash(len(_NUMBER.findall(clipped)), 30),
        "f:math": _squash(sum(lower.count(mark) for mark in _MATH_MARKS), 30),
        "f:code": _squash(sum(clipped.count(mark) for mark in _CODE_MARKS), 10),
        "f:steps": _squash(sum(lower.count(mark) for mark in _STEP_MARKS), 10),
        "f:list": _squash(len(_LIST_ITEM.findall(clipped)), 10),
        "f:questions": _squash(clipped.count("?"), 5),
        "f:turns": _squash(max(0, turns - 1), 10),
    }


def features(text: str, turns: int = 1) -> dict[str, float]:
    """Every feature of a request. Vocabulary is left out on purpose: word features learned on MMLU memorise its
    domains (held-out-domain APGR fell from 0.57 to 0.51 with them), while shape signals carry over. Features
    absent from the dict (no options block) read as 0."""
    clipped = _clip(text)
    ask, options = split_options(clipped)
    return shape(text, turns) | options_block(options) | reading_level(ask, clipped)
