"""One log line's worth of an exception: its type, its message and the causes chained to it.

"Redis unavailable (ResponseError)" hides why; "ResponseError: DENIED Redis is running in protected mode..." says
it. For logs only: user-facing messages never carry exception text (see openai_errors).
"""

from __future__ import annotations

MAX_CHARS = 400
MAX_CAUSES = 3


def _one(exc: BaseException) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def describe(exc: BaseException) -> str:
    """`Type: message` for the exception and each cause behind it (bounded, first line of each)."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) <= MAX_CAUSES:
        parts.append(_one(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    text = " <- ".join(parts)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
