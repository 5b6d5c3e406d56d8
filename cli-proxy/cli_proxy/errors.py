"""CLI failures as OpenAI errors with the status LiteLLM acts on; secrets redacted from what the CLI printed."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from cli_proxy.events import Failure, FailureKind
from maximus_kernel.openai_errors import OpenAIError

_STATUS = {
    FailureKind.AUTH: (401, "cli_not_authenticated"),
    FailureKind.RATE_LIMIT: (429, "rate_limit_exceeded"),
    FailureKind.OVERLOADED: (503, "cli_overloaded"),
    FailureKind.UNAVAILABLE: (503, "cli_unavailable"),
    FailureKind.BUSY: (503, "cli_busy"),
    FailureKind.MODEL_NOT_FOUND: (404, "model_not_found"),
    FailureKind.BAD_REQUEST: (400, "invalid_request"),
    FailureKind.CRASH: (502, "cli_failed"),
    FailureKind.TIMEOUT: (504, "cli_timeout"),
}
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),  # OpenAI / Anthropic keys and OAuth tokens (sk-ant-...)
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),  # Google API keys
    re.compile(r"ya29\.[0-9A-Za-z_\-]{20,}"),  # Google OAuth access tokens
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),  # JWTs
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{12,}=*"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
]
_REDACTED = "[REDACTED]"
STDERR_SHOWN = 1500


def env_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables, to be removed wherever they appear."""
    env = os.environ if env is None else env
    return [v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= 8]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + _REDACTED, text)
    return text


def status_for(kind: FailureKind) -> int:
    return _STATUS[kind][0]


def to_openai_error(failure: Failure, secrets: Iterable[str] = ()) -> OpenAIError:
    status, code = _STATUS[failure.kind]
    message = failure.message
    tail = failure.stderr_tail.strip()
    if tail and failure.kind in {FailureKind.CRASH, FailureKind.TIMEOUT}:
        message += f"\n--- stderr (last lines) ---\n{tail[-STDERR_SHOWN:]}"
    headers = {}
    if failure.kind is FailureKind.RATE_LIMIT:
        headers["Retry-After"] = str(failure.retry_after_s or 60)
    elif failure.kind is FailureKind.BUSY:
        headers["Retry-After"] = str(failure.retry_after_s or 1)
    return OpenAIError(status, redact(message, secrets), code=failure.code or code, headers=headers)
