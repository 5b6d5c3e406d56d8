"""Codex: `codex exec --json ... -` (prompt on stdin, system prompt in model_instructions_file), text per
agent message."""

from __future__ import annotations

import datetime as dt
import json
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
    seconds_until_clock,
    write_private,
)
from cli_proxy.events import Event, Failure, FailureKind, Finished, TextDelta, Usage

LOGIN_HINT = "run `codex login` on the host (mounted read-only at ~/.codex), or set CODEX_API_KEY"
# Tools off: the features that let the model act, and web search.
_TOOLS_OFF = (
    "shell_tool",
    "unified_exec",
    "apps",
    "plugins",
    "browser_use",
    "computer_use",
    "in_app_browser",
    "image_generation",
    "view_image",
)
_AUTH = re.compile(
    r"\b401\b|unauthorized|not logged in|please log ?in|codex login|refresh token|"
    r"invalid_api_key|incorrect api key",
    re.IGNORECASE,
)
_RATE = re.compile(r"usage limit|rate limit|\b429\b|too many requests", re.IGNORECASE)
_OVERLOADED = re.compile(r"at capacity|overloaded|\b503\b|server_is_overloaded", re.IGNORECASE)
_OFFLINE = re.compile(r"waiting for network", re.IGNORECASE)
_RECONNECTING = re.compile(r"^reconnecting\.\.\.", re.IGNORECASE)
_MODEL = re.compile(r"model .*(?:not found|does not exist|not supported)|model_not_found", re.IGNORECASE)
_TOO_LONG = re.compile(r"context window|context_length_exceeded|input exceeds", re.IGNORECASE)
_AT_CLOCK = re.compile(r"try again at (\d{1,2}):(\d{2})\s*([ap]m)?", re.IGNORECASE)
_IN_UNITS = re.compile(r"(\d+)\s*(day|hour|minute|second)s?", re.IGNORECASE)


def retry_seconds(message: str, now: dt.datetime | None = None) -> int | None:
    """Seconds until 'Try again at 1:37 AM' (next such local time) or 'try again in 2 hours 5 minutes'."""
    now = now or dt.datetime.now().astimezone()
    clock = _AT_CLOCK.search(message)
    if clock:
        return seconds_until_clock(int(clock.group(1)), int(clock.group(2)), clock.group(3) or "", now)
    if "try again in" in message.lower():
        scale = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
        total = sum(int(n) * scale[u.lower()] for n, u in _IN_UNITS.findall(message))
        return total or None
    return None


def classify(message: str) -> Failure:
    if _AUTH.search(message):
        return Failure(FailureKind.AUTH, f"Codex is not logged in: {LOGIN_HINT}.")
    if _RATE.search(message):
        return Failure(FailureKind.RATE_LIMIT, f"Codex: {message}", retry_after_s=retry_seconds(message))
    if _OVERLOADED.search(message):
        return Failure(FailureKind.OVERLOADED, f"Codex: {message}")
    if _OFFLINE.search(message):
        return Failure(FailureKind.UNAVAILABLE, f"Codex cannot reach its provider: {message}")
    if _MODEL.search(message):
        return Failure(FailureKind.MODEL_NOT_FOUND, f"Codex: {message}")
    if _TOO_LONG.search(message):
        return Failure(FailureKind.BAD_REQUEST, f"Codex: {message}", code="context_length_exceeded")
    return Failure(FailureKind.CRASH, f"Codex failed: {message}")


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML), so `-c key=value` never misparses."""
    return json.dumps(text, ensure_ascii=False)


class CodexParser(LineParser):
    def __init__(self) -> None:
        self.sent: dict[str, int] = {}  # agent_message id -> characters already sent
        self.failed = False
        self.done = False
        self.last_error = ""

    def feed(self, line: str) -> list[Event]:
        obj = json_line(line)
        if obj is None:
            return []
        kind = obj.get("type")
        if kind in {"item.started", "item.updated", "item.completed"}:
            return self._item(obj.get("item") or {})
        if kind == "error":
            return self._error(str(obj.get("message", "")))
        if kind == "turn.failed":
            error = obj.get("error") or {}
            message = error.get("message") if isinstance(error, Mapping) else str(error)
            return self._fail(str(message or self.last_error or "turn failed"))
        if kind == "turn.completed":
            usage = obj.get("usage") or {}
            self.done = True
            return [
                Usage(
                    as_int(usage.get("input_tokens")),
                    as_int(usage.get("output_tokens")),
                    as_int(usage.get("cached_input_tokens")),
                ),
                Finished(),
            ]
        return []  # thread.started, turn.started, unknown types

    def _item(self, item: Mapping[str, Any]) -> list[Event]:
        if item.get("type") != "agent_message" or not isinstance(item.get("text"), str):
            return []  # reasoning, command_execution, warnings (type "error"), ...
        item_id, text = str(item.get("id")), item["text"]
        sent = self.sent.get(item_id, 0)
        if len(text) <= sent:
            return []
        prefix = "\n\n" if sent == 0 and any(self.sent.values()) else ""
        self.sent[item_id] = len(text)
        return [TextDelta(prefix + text[sent:])]

    def _error(self, message: str) -> list[Event]:
        if _RECONNECTING.search(message) and not _OFFLINE.search(message):
            return []  # Codex retries by itself
        self.last_error = message
        failure = classify(message)
        if failure.kind in {FailureKind.UNAVAILABLE, FailureKind.AUTH}:
            return self._fail(message)  # Codex would wait for the network forever
        return []  # the turn.failed that follows says it again

    def _fail(self, message: str) -> list[Event]:
        if self.failed:
            return []
        self.failed = True
        return [classify(message)]

    def finish(self, returncode: int) -> list[Event]:
        if self.done or self.failed:
            return []
        if self.last_error:
            return [classify(self.last_error)]
        return [Failure(FailureKind.CRASH, f"codex exited with code {returncode} without completing the turn")]


class CodexAdapter(CliAdapter):
    name = "codex"
    login_hint = LOGIN_HINT
    credential_env = "CODEX_API_KEY"
    install_hint = "npm install -g @openai/codex (or npm install --prefix cli-proxy)"
    shared_home = True  # its state is SQLite (safe to share); one home keeps refreshed tokens
    warm_start = True  # `codex exec -` starts up, then reads stdin to its end, however long that takes
    preflight_auth = True  # offline and logged out, `codex exec` waits forever: ask `codex login status`

    def prepare_home(self, home: Path) -> None:
        super().prepare_home(home)
        if self.settings.credentials_from:
            link_into(self.settings.credentials_from / "auth.json", home / "auth.json")

    def _env(self, home: Path) -> dict[str, str]:
        return {"CODEX_HOME": str(home), "NO_COLOR": "1"}

    def prepare(self, model_flag: str | None, prompt: Prompt, paths: RunPaths) -> Invocation:
        args = [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--ephemeral",
            "--ignore-user-config",
            "--ignore-rules",
            "-s",
            "read-only",
            "-c",
            'web_search="disabled"',
        ]
        for feature in _TOOLS_OFF:
            args += ["-c", f"features.{feature}=false"]
        if model_flag:
            args += ["-m", model_flag]
        if prompt.system:  # in a file, never on argv (visible in ps, 128 KiB per argument)
            system_file = write_private(paths.scratch / "system.md", prompt.system)
            args += ["-c", f"model_instructions_file={toml_string(str(system_file))}"]
        return Invocation([*args, "-"], self._env(paths.home))

    def parser(self) -> LineParser:
        return CodexParser()

    def auth_probe(self, home: Path) -> Invocation | None:
        return Invocation(["login", "status"], self._env(home))

    def static_auth(self, env: Mapping[str, str]) -> AuthState:
        if {**env, **self.settings.env}.get("CODEX_API_KEY"):
            return AuthState(True, "CODEX_API_KEY is set")
        return AuthState(None, "")
