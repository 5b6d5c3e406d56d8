"""The clean error of the request being answered, handed from the routing hook to the gateway's edge.

LiteLLM 1.108.7's /v1/messages endpoint ignores the HTTPException a failure hook returns (it builds its answer from
the original exception: LiteLLM's text) and wraps a pre-call hook's HTTPException detail as
`provider_specific_fields`. So the hook records each clean error it makes here, and the edge
(maximus.gateway_edge), which opened the scope for the request, writes that error in Anthropic's shape instead.

A contextvar holding one mutable slot: the endpoint's task (and any task it starts) inherits the edge's context,
so what the hook records is what the edge reads. Outside a scope (unit tests, `maximus route`) recording is a no-op.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class CleanError:
    status: int
    message: str
    type: str  # the OpenAI error type the hook chose (invalid_request_error, permission_error, ...)


class ErrorSlot:
    def __init__(self) -> None:
        self.error: CleanError | None = None


_SLOT: ContextVar[ErrorSlot | None] = ContextVar("maximus_clean_error", default=None)


def open_scope() -> tuple[ErrorSlot, Token[ErrorSlot | None]]:
    slot = ErrorSlot()
    return slot, _SLOT.set(slot)


def close_scope(token: Token[ErrorSlot | None]) -> None:
    _SLOT.reset(token)


def record(status: int, message: str, type: str) -> None:
    """The latest clean error of this request (a failure after a refusal replaces it)."""
    slot = _SLOT.get()
    if slot is not None:
        slot.error = CleanError(status, message, type)
