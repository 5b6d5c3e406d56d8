"""The power-tier CLI proxy: Claude Code, Gemini CLI and Codex, run headless, behind an OpenAI-compatible API."""
