"""One adapter per CLI: the argv it is run with, and its output lines turned into common events."""

from __future__ import annotations

from cli_proxy.adapters.base import CliAdapter, LineParser, Prompt, RunPaths
from cli_proxy.adapters.claude import ClaudeAdapter
from cli_proxy.adapters.codex import CodexAdapter
from cli_proxy.adapters.gemini import GeminiAdapter

ADAPTERS: dict[str, type[CliAdapter]] = {"claude": ClaudeAdapter, "gemini": GeminiAdapter, "codex": CodexAdapter}

__all__ = ["ADAPTERS", "CliAdapter", "LineParser", "Prompt", "RunPaths"]
