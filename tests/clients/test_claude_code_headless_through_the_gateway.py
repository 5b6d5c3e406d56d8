"""Claude Code (the npm package locked in cli-proxy/package-lock.json) run headless against the gateway, set up
as README's "Use it from ..." says: ANTHROPIC_BASE_URL the gateway's root, ANTHROPIC_AUTH_TOKEN the key (sent as
`Authorization: Bearer`, in the environment, never on the command line), ANTHROPIC_MODEL max-auto and the small
fast model max-buddy, with auto-update, telemetry, error reports and other non-essential traffic off
(code.claude.com/docs/en/env-vars). A throwaway HOME and CLAUDE_CONFIG_DIR keep the developer's own state out;
the prompt goes on stdin.

Claude Code shows no response headers, so the tier is read from the tracker (per tier) and the Ollama double's
request log. The Ollama double calls the first tool offered whenever a request carries tools (docs/reference/
ollama.md), so the plain hello runs with `--tools ""` and the tool turn offers only Read: the double's call reads
a file that does not exist, Claude Code returns the error as a tool_result, and the double answers with text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clients.stack import ClientStack, Ran, assert_no_litellm_text, offline_env, run_cli
from tests.support.processes import REPO

CLAUDE = REPO / "cli-proxy" / "node_modules" / ".bin" / "claude"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CLAUDE.exists(), reason="Claude Code is not installed: run `npm ci --prefix cli-proxy`"),
]
HEADLESS = ["-p", "--output-format", "json", "--no-session-persistence", "--strict-mcp-config", "--max-turns", "4"]


def claude_env(maximus: ClientStack, home: Path) -> dict[str, str]:
    """The variables README gives for Claude Code, with this test's gateway address."""
    return offline_env(
        home,
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        ANTHROPIC_BASE_URL=maximus.base_url,
        ANTHROPIC_AUTH_TOKEN=maximus.key,
        ANTHROPIC_MODEL="max-auto",
        ANTHROPIC_DEFAULT_HAIKU_MODEL="max-buddy",
        ANTHROPIC_SMALL_FAST_MODEL="max-buddy",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )


def claude(maximus: ClientStack, tmp_path: Path, prompt: str, *options: str) -> tuple[Ran, dict]:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir(parents=True)
    ran = run_cli([str(CLAUDE), *HEADLESS, *options], env=claude_env(maximus, home), cwd=work, stdin=prompt)
    assert maximus.key not in ran.stdout + ran.stderr, "the key is never printed"
    lines = [line for line in ran.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON result (exit {ran.returncode}): {ran.stdout[-1500:]} {ran.stderr[-1500:]}"
    result = json.loads(lines[-1])
    assert result["is_error"] is False and result["subtype"] == "success", result.get("result")
    assert ran.returncode == 0, ran.stderr[-1500:]
    assert_no_litellm_text(ran.stdout, ran.stderr)
    return ran, result


def test_claude_code_says_hello_from_the_local_tier(maximus: ClientStack, tmp_path: Path) -> None:
    mark = maximus.mark()
    _, result = claude(maximus, tmp_path, "say hello", "--tools", "")
    assert result["result"].startswith("Local answer from "), result["result"]
    assert result["usage"]["output_tokens"] > 0, "usage reaches Claude Code"
    made = maximus.assert_counted(mark)
    assert {r.path for r in made} == {"/v1/messages"}
    assert maximus.chats_since(mark), "the local tier answered"


def test_claude_code_tool_turn_runs_on_a_local_tools_model(maximus: ClientStack, tmp_path: Path) -> None:
    mark = maximus.mark()
    _, result = claude(maximus, tmp_path, "read the file named local", "--tools", "Read", "--allowedTools", "Read")
    assert result["num_turns"] >= 2, "a tool_use turn, then the answer after its tool_result"
    assert "the tool said" in result["result"], result["result"]
    made = maximus.assert_counted(mark)
    assert len([r for r in made if r.path == "/v1/messages"]) >= 2
    maximus.assert_tools_went_to_a_tools_model(mark)
