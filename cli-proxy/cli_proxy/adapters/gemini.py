"""Gemini CLI: `gemini -o stream-json --skip-trust` with the prompt piped on stdin."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli_proxy.adapters.base import (
    AuthState,
    CliAdapter,
    Invocation,
    LineParser,
    Prompt,
    RunPaths,
    as_int,
    json_line,
    link_into,
    write_private,
)
from cli_proxy.events import Event, Failure, FailureKind, Finished, TextDelta, Usage

LOGIN_HINT = "set GEMINI_API_KEY (or GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT/LOCATION)"
_AUTH_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_AUTH_FLAGS = ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA")
# Exit codes documented by Gemini CLI.
_EXIT = {
    41: FailureKind.AUTH,
    42: FailureKind.BAD_REQUEST,
    52: FailureKind.CRASH,
    53: FailureKind.CRASH,
    54: FailureKind.CRASH,
    55: FailureKind.CRASH,
    130: FailureKind.CRASH,
}
_AUTH = re.compile(
    r"api key not valid|unauthenticated|permission_denied|\b401\b|please set an auth method", re.IGNORECASE
)
_RATE = re.compile(r"\b429\b|resource_exhausted|quota|rate limit|exhausted your capacity", re.IGNORECASE)
_OVERLOADED = re.compile(r"\b503\b|unavailable|overloaded|high demand", re.IGNORECASE)
_MODEL = re.compile(r"\b404\b|not_found|model .*not found", re.IGNORECASE)
_TOO_LONG = re.compile(r"exceeds the maximum number of tokens|input token count|context window", re.IGNORECASE)
_RETRY_IN = re.compile(r"(?:retry in|retrydelay\W+|reset after)\s*((?:\d+(?:\.\d+)?\s*[hms]\s*)+)", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])", re.IGNORECASE)


def retry_seconds(message: str) -> int | None:
    """Seconds from 'Please retry in 23.4s', '"retryDelay": "23s"' or 'reset after 1h2m3s'."""
    match = _RETRY_IN.search(message)
    if not match:
        return None
    scale = {"h": 3600, "m": 60, "s": 1}
    total = sum(float(n) * scale[u.lower()] for n, u in _DURATION_PART.findall(match.group(1)))
    return max(1, math.ceil(total))


def classify(message: str) -> Failure:
    if _AUTH.search(message):
        return Failure(FailureKind.AUTH, f"Gemini CLI is not authenticated: {LOGIN_HINT}.")
    if _RATE.search(message):
        return Failure(FailureKind.RATE_LIMIT, f"Gemini: {message}", retry_after_s=retry_seconds(message))
    if _TOO_LONG.search(message):
        return Failure(FailureKind.BAD_REQUEST, f"Gemini: {message}", code="context_length_exceeded")
    if _OVERLOADED.search(message):
        return Failure(FailureKind.OVERLOADED, f"Gemini: {message}")
    if _MODEL.search(message):
        return Failure(FailureKind.MODEL_NOT_FOUND, f"Gemini: {message}")
    return Failure(FailureKind.CRASH, f"Gemini failed: {message}")


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return " ".join(str(error.get(k)) for k in ("type", "code", "message") if error.get(k) is not None)
    return str(error)


class GeminiParser(LineParser):
    def __init__(self) -> None:
        self.failed = False
        self.done = False

    def feed(self, line: str) -> list[Event]:
        obj = json_line(line)
        if obj is None:
            return []
        kind = obj.get("type")
        if kind == "message" and obj.get("role") == "assistant":
            content = obj.get("content")
            return [TextDelta(content)] if isinstance(content, str) and content else []
        if kind == "error" and obj.get("severity", "error") == "error":
            return self._fail(str(obj.get("message", "error")))
        if kind == "result":
            return self._result(obj)
        return []  # init, user echo, tool events, warnings, unknown types

    def _result(self, obj: Mapping[str, Any]) -> list[Event]:
        if obj.get("status") != "success":
            return self._fail(_error_text(obj.get("error") or obj.get("status")))
        stats = obj.get("stats") or {}
        prompt = as_int(stats.get("input_tokens")) or as_int(stats.get("input"))
        self.done = True
        return [Usage(prompt, as_int(stats.get("output_tokens")), as_int(stats.get("cached"))), Finished()]

    def _fail(self, message: str) -> list[Event]:
        if self.failed:
            return []
        self.failed = True
        return [classify(message)]

    def finish(self, returncode: int) -> list[Event]:
        if self.done or self.failed:
            return []
        kind = _EXIT.get(returncode, FailureKind.CRASH)
        if kind is FailureKind.AUTH:
            return [Failure(kind, f"Gemini CLI is not authenticated (exit 41): {LOGIN_HINT}.")]
        if kind is FailureKind.BAD_REQUEST:
            return [Failure(kind, "Gemini CLI rejected the input (exit 42).")]
        return [Failure(kind, f"gemini exited with code {returncode} without a result")]


class GeminiAdapter(CliAdapter):
    name = "gemini"
    login_hint = LOGIN_HINT
    credential_env = "GEMINI_API_KEY"
    install_hint = "npm install -g @google/gemini-cli (or npm install --prefix cli-proxy)"

    def prepare(self, model_flag: str | None, prompt: Prompt, paths: RunPaths) -> Invocation:
        home = paths.scratch / "gemini-home"  # per request: no history or session files survive it
        (home / ".gemini").mkdir(parents=True, mode=0o700)
        (home / ".gemini" / "settings.json").write_text(json.dumps(self._settings()))
        source = self.settings.credentials_from
        if source:
            for name in ("oauth_creds.json", "google_accounts.json"):
                link_into(source / name, home / ".gemini" / name)
        env = {"GEMINI_CLI_HOME": str(home), "NO_COLOR": "1"}
        if prompt.system:
            system_file = write_private(paths.scratch / "system.md", prompt.system)
            env["GEMINI_SYSTEM_MD"] = str(system_file)
        args = ["-o", "stream-json", "--skip-trust"]  # piped stdin alone runs headless
        if model_flag:
            args += ["-m", model_flag]
        return Invocation(args, env)

    def _settings(self) -> dict[str, Any]:
        """Tools off (no core tool matches 'none'); the operator's auth choice kept."""
        settings: dict[str, Any] = {"tools": {"core": ["none"]}}
        auth = self._source_settings().get("security")
        if isinstance(auth, dict):
            settings["security"] = {"auth": auth.get("auth", {})}
        return settings

    def _source_settings(self) -> dict[str, Any]:
        source = self.settings.credentials_from
        try:
            data = json.loads((source / "settings.json").read_text()) if source else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def parser(self) -> LineParser:
        return GeminiParser()

    def static_auth(self, env: Mapping[str, str]) -> AuthState:
        merged = {**env, **self.settings.env}
        for name in _AUTH_ENV:
            if merged.get(name):
                return AuthState(True, f"{name} is set")
        for name in _AUTH_FLAGS:
            if merged.get(name, "").lower() in {"1", "true"}:
                return AuthState(True, f"{name} is set")
        selected = ((self._source_settings().get("security") or {}).get("auth") or {}).get("selectedType")
        if selected:
            return AuthState(True, f"settings.json selects {selected}")
        return AuthState(False, "no GEMINI_API_KEY, Vertex or settings.json auth method")

    def home_dir(self, state_dir: Path, slot: int) -> Path:
        return state_dir / self.name  # unused: each request gets its own home under scratch
