"""Claude Code: `claude -p --output-format stream-json --verbose --include-partial-messages`."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import zoneinfo
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

LOGIN_HINT = (
    "run `claude` then /login on the host (mounted read-only at ~/.claude), "
    "or set CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`, or ANTHROPIC_API_KEY"
)
_LIMIT_RESET = re.compile(r"usage limit reached\|(\d{9,11})", re.IGNORECASE)
# "5-hour limit reached ∙ resets 5am", "You've hit your session limit · resets 12:50am (America/Los_Angeles)"
_RESETS_AT = re.compile(r"resets\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*([ap]m)\b(?:\s*\(([^)]+)\))?", re.IGNORECASE)
_AUTH = re.compile(
    r"not logged in|please run /login|authentication_failed|authentication_error|"
    r"api error: 40[13]\b|invalid api key|oauth token has expired",
    re.IGNORECASE,
)
_RATE = re.compile(r"usage limit|rate_limit_error|api error: 429\b|limit reached|hit your \w+ limit", re.IGNORECASE)
_OVERLOADED = re.compile(r"overloaded|api error: (?:529|503)\b", re.IGNORECASE)
_MODEL = re.compile(r"not_found_error|api error: 404\b|issue with the selected model|model .*not found", re.IGNORECASE)
_TOO_LONG = re.compile(r"prompt is too long|context (?:window|length)", re.IGNORECASE)


def _zone(name: str | None) -> dt.tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def reset_seconds(message: str, now: dt.datetime | None = None) -> int | None:
    """Seconds until the "resets 3pm (Europe/Paris)" of a limit message: that zone, else local time."""
    match = _RESETS_AT.search(message)
    if not match:
        return None
    hour, minute, half, zone = match.groups()
    now = (now or dt.datetime.now().astimezone()).astimezone(_zone(zone))
    return seconds_until_clock(int(hour), int(minute or 0), half, now)


def classify(message: str, reset_at: int | None) -> Failure:
    """The failure a Claude error text stands for."""
    if _AUTH.search(message):
        return Failure(FailureKind.AUTH, f"Claude Code is not logged in: {LOGIN_HINT}.")
    if _RATE.search(message):
        match = _LIMIT_RESET.search(message)
        reset = int(match.group(1)) if match else reset_at
        retry = max(1, reset - int(time.time())) if reset else reset_seconds(message)
        text = message.split("|")[0].strip()
        return Failure(FailureKind.RATE_LIMIT, f"Claude: {text}", retry_after_s=retry)
    if _OVERLOADED.search(message):
        return Failure(FailureKind.OVERLOADED, f"Claude: {message}")
    if _MODEL.search(message):
        return Failure(FailureKind.MODEL_NOT_FOUND, f"Claude: {message}")
    if _TOO_LONG.search(message):
        return Failure(FailureKind.BAD_REQUEST, f"Claude: {message}", code="context_length_exceeded")
    return Failure(FailureKind.CRASH, f"Claude failed: {message}")


def _text_of(message: Mapping[str, Any]) -> str:
    parts = message.get("content") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")


# Pure chat, headless: deltas as they come, no tools, one turn, no session files, no MCP servers from anywhere.
# The prompt comes as one stream-json user message: in that mode Claude Code waits on stdin for as long as it
# takes (plain text stdin is given up after 3 s), so a warm worker can be started ahead of its request.
HEADLESS_ARGS = (
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--tools",
    "",
    "--max-turns",
    "1",
    "--no-session-persistence",
    "--strict-mcp-config",
)


class ClaudeParser(LineParser):
    def __init__(self) -> None:
        self.streamed = False  # text deltas seen for the current message
        self.emitted = False  # any answer text sent at all
        self.reset_at: int | None = None
        self.failed = False
        self.done = False

    def feed(self, line: str) -> list[Event]:
        obj = json_line(line)
        if obj is None:
            return []
        kind = obj.get("type")
        if kind == "stream_event":
            return self._stream_event(obj.get("event") or {})
        if kind == "assistant":
            return self._assistant(obj)
        if kind == "rate_limit_event":
            info = obj.get("rate_limit_info") or {}
            if info.get("status") == "rejected" and as_int(info.get("resetsAt")):
                self.reset_at = as_int(info.get("resetsAt"))
            return []
        if kind == "result":
            return self._result(obj)
        return []  # system/init, api_retry, status, unknown types

    def _stream_event(self, event: Mapping[str, Any]) -> list[Event]:
        delta = event.get("delta") or {}
        if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta" and delta.get("text"):
            self.streamed = self.emitted = True
            return [TextDelta(str(delta["text"]))]
        return []

    def _assistant(self, obj: Mapping[str, Any]) -> list[Event]:
        message = obj.get("message") or {}
        text = _text_of(message)
        if obj.get("error") or obj.get("is_api_error_message"):
            return self._fail(text or str(obj.get("error")))
        streamed, self.streamed = self.streamed, False
        if text and not streamed:  # without partial messages the text comes whole, once
            self.emitted = True
            return [TextDelta(text)]
        return []

    def _result(self, obj: Mapping[str, Any]) -> list[Event]:
        result = obj.get("result")
        text = result if isinstance(result, str) else ""
        if obj.get("is_error") or obj.get("subtype") != "success" or (_AUTH.search(text) and not self.emitted):
            return self._fail(text or f"result {obj.get('subtype')}")
        events: list[Event] = []
        if text and not self.emitted:
            events.append(TextDelta(text))
        usage = obj.get("usage") or {}
        cached = as_int(usage.get("cache_read_input_tokens"))
        prompt = as_int(usage.get("input_tokens")) + as_int(usage.get("cache_creation_input_tokens")) + cached
        cost = obj.get("total_cost_usd")
        cost = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
        events.append(Usage(prompt, as_int(usage.get("output_tokens")), cached, cost))
        events.append(Finished())
        self.done = True
        return events

    def _fail(self, message: str) -> list[Event]:
        if self.failed:
            return []
        self.failed = True
        return [classify(message, self.reset_at)]

    def finish(self, returncode: int) -> list[Event]:
        if self.done or self.failed:
            return []
        return [Failure(FailureKind.CRASH, f"claude exited with code {returncode} without a result")]


def user_message(text: str) -> bytes:
    """The prompt as the one stream-json input line Claude Code reads."""
    line = {"type": "user", "message": {"role": "user", "content": text}}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()


class ClaudeAdapter(CliAdapter):
    name = "claude"
    warm_start = True
    login_hint = LOGIN_HINT
    credential_env = "CLAUDE_CODE_OAUTH_TOKEN"
    install_hint = "npm install -g @anthropic-ai/claude-code (or npm install --prefix cli-proxy)"

    def prepare_home(self, home: Path) -> None:
        super().prepare_home(home)
        if self.settings.credentials_from:
            link_into(self.settings.credentials_from / ".credentials.json", home / ".credentials.json")

    def prepare(self, model_flag: str | None, prompt: Prompt, paths: RunPaths) -> Invocation:
        args = list(HEADLESS_ARGS)
        if model_flag:
            args += ["--model", model_flag]
        if prompt.system:
            system_file = write_private(paths.scratch / "system-prompt.md", prompt.system)
            args += ["--system-prompt-file", str(system_file)]
        return Invocation(args, self._env(paths.home))

    def _env(self, home: Path) -> dict[str, str]:
        return {
            "CLAUDE_CONFIG_DIR": str(home),
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }

    def parser(self) -> LineParser:
        return ClaudeParser()

    def stdin_payload(self, prompt: Prompt) -> bytes:
        return user_message(prompt.text)

    def auth_probe(self, home: Path) -> Invocation | None:
        return Invocation(["auth", "status"], self._env(home))

    def auth_from_probe(self, returncode: int, stdout: str) -> AuthState:
        try:
            status = json.loads(stdout)
        except ValueError:
            status = {}
        logged_in = bool(status.get("loggedIn")) if isinstance(status, dict) and status else returncode == 0
        method = status.get("authMethod", "") if isinstance(status, dict) else ""
        return AuthState(logged_in, f"logged in ({method})" if logged_in else "not logged in")
