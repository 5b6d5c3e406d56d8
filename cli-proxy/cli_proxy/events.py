"""The common event type every CLI adapter turns its output lines into."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FailureKind(enum.Enum):
    AUTH = "auth"  # not logged in, bad or expired credentials
    RATE_LIMIT = "rate_limit"  # usage limit of the plan or the API
    OVERLOADED = "overloaded"  # model at capacity / overloaded
    UNAVAILABLE = "unavailable"  # the CLI cannot reach its provider
    MODEL_NOT_FOUND = "model_not_found"
    BAD_REQUEST = "bad_request"  # the prompt itself was refused (too long, ...)
    CRASH = "crash"  # the CLI failed in another way
    TIMEOUT = "timeout"
    BUSY = "busy"  # no free slot for this CLI within the queue timeout


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str
    retry_after_s: int | None = None
    code: str | None = None  # a more precise OpenAI error code, e.g. context_length_exceeded
    stderr_tail: str = ""


@dataclass(frozen=True)
class Finished:
    """The CLI reported a successful end of the turn."""


Event = TextDelta | Usage | Failure | Finished
