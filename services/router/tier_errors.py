"""Clean errors for a tier that cannot answer: which tier, which address, the fix, and a fitting status.

LiteLLM's own message for a local tier that is down is a chain of provider exceptions with a Python repr of an
SSL context, "REDACTED" hosts and every fallback that also failed, answered as a 500. The proxy hook
(router.litellm_hook) passes each failed request here; a failure that means "the tier did not answer" becomes a
503 (nothing answers, cooling down) or a 504 (timed out) whose message a person can act on. Every other failure is
left as LiteLLM answers it: a bad request, an authentication failure, and a tier that answered with its own error
(the CLI proxy's "overloaded", the vision service's "no weights": their message says more than ours would).

No LiteLLM import: exceptions are recognised by the names of their classes and their status codes, so that the
policy code stays free of the framework (and a LiteLLM upgrade that renames a class fails a test, not a user).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.config import TierEndpoint

UNREACHABLE = "unreachable"  # nothing answers at the address (connection refused, DNS, reset)
TIMEOUT = "timeout"  # the address accepted the connection but did not answer in time
DOWN = "down"  # every deployment of the tier is cooling down after failures (LiteLLM's "No deployments available")

# Exception class names (anywhere in the exception's MRO) per kind, as LiteLLM names them.
_TIMEOUT_CLASSES = frozenset({"Timeout", "APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout"})
_UNREACHABLE_CLASSES = frozenset({"ConnectError", "ClientConnectorError", "ConnectionRefusedError"})
_DOWN_CLASSES = frozenset({"RouterRateLimitError"})
# A stream that went silent after its first chunks: LiteLLM wraps aiohttp's read timeout in APIConnectionError.
_READ_TIMEOUT_HINTS = ("timeout on reading data from socket",)
# LiteLLM wraps many unrelated failures in APIConnectionError: only these texts mean "nothing answers there".
_UNREACHABLE_HINTS = (
    "cannot connect",
    "connection refused",
    "all connection attempts failed",
    "connecterror",
    "connection reset",
    "name or service not known",
    "nodename nor servname",
)


@dataclass(frozen=True)
class TierFailure:
    tier: str
    kind: str  # UNREACHABLE | TIMEOUT | DOWN
    address: str
    fix: str

    @property
    def status(self) -> int:
        return 504 if self.kind == TIMEOUT else 503

    @property
    def code(self) -> str:
        return f"{self.tier}_tier_{self.kind}"

    @property
    def error_type(self) -> str:
        return "timeout_error" if self.kind == TIMEOUT else "service_unavailable_error"

    @property
    def message(self) -> str:
        what = {
            UNREACHABLE: f"nothing answers at {self.address}",
            TIMEOUT: f"{self.address} did not answer in time",
            DOWN: f"{self.address} failed repeatedly and is cooling down",
        }[self.kind]
        return f"{self.tier} tier unavailable: {what}: {self.fix}"


# LiteLLM appends each failed fallback to the first group's message: "... Fallback to max-buddy also failed: <error>".
_FALLBACK = re.compile(r"Fallback to (\S+?) also failed:")
_TIMEOUT_HINTS = ("timed out", "timeout")
_DOWN_HINTS = ("no deployments available",)


def last_fallback(exc: BaseException) -> tuple[str, str] | None:
    """(group, its error text) of the last fallback that also failed; None when no fallback was tried."""
    text = str(exc)
    matches = list(_FALLBACK.finditer(text))
    if not matches:
        return None
    return matches[-1][1], text[matches[-1].end() :]


def _kind_from_text(text: str) -> str | None:
    lowered = text.lower()
    if any(hint in lowered for hint in _UNREACHABLE_HINTS):
        return UNREACHABLE
    if any(hint in lowered for hint in _TIMEOUT_HINTS):
        return TIMEOUT
    if any(hint in lowered for hint in _DOWN_HINTS):
        return DOWN
    return None


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def failure_kind(exc: BaseException) -> str | None:
    """UNREACHABLE, TIMEOUT or DOWN when `exc` means the tier did not answer; None for any other failure. After
    failed fallbacks, the last one decides: the request ended there."""
    fallback = last_fallback(exc)
    if fallback is not None:
        return _kind_from_text(fallback[1])
    names = _class_names(exc)
    status = getattr(exc, "status_code", None)
    if names & _TIMEOUT_CLASSES or status in (408, 504):
        return TIMEOUT
    if names & _DOWN_CLASSES:
        return DOWN
    text = str(exc).lower()
    if any(hint in text for hint in _READ_TIMEOUT_HINTS):
        return TIMEOUT
    if names & _UNREACHABLE_CLASSES or any(hint in text for hint in _UNREACHABLE_HINTS):
        return UNREACHABLE
    if status == 429 and "no deployments available" in text:
        return DOWN
    return None


def address_of(endpoint: TierEndpoint, env: Mapping[str, str] | None = None) -> str:
    """The tier's address as the proxy was configured with it (its environment), without credentials."""
    env = os.environ if env is None else env
    address = (env.get(endpoint.address_env) if endpoint.address_env else None) or endpoint.default_address
    scheme, sep, rest = address.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]  # user:password@host: never echo credentials
    return f"{scheme}{sep}{rest}".rstrip("/")


def describe(
    exc: BaseException,
    tier: str | None,
    endpoints: Mapping[str, TierEndpoint],
    env: Mapping[str, str] | None = None,
) -> TierFailure | None:
    """The clean failure for a request to `tier` that failed with `exc`; None when it is not a tier outage."""
    kind = failure_kind(exc)
    if kind is None or tier is None or tier not in endpoints:
        return None
    endpoint = endpoints[tier]
    return TierFailure(tier, kind, address_of(endpoint, env), endpoint.fix)


def openai_error(failure: TierFailure) -> dict[str, Any]:
    return {"message": failure.message, "type": failure.error_type, "param": None, "code": failure.code}
