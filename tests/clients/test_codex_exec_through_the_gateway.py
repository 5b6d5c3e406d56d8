"""Codex CLI (the npm package locked in cli-proxy/package-lock.json) run headless with `codex exec` against the
gateway's /v1/responses (streamed: the only wire API Codex has), set up as README's "Use it from ..." says: a
config.toml in a throwaway CODEX_HOME whose model_provider has the gateway as base_url, `wire_api = "responses"`
and `env_key` naming the variable that holds the key (developers.openai.com/codex/config-advanced); the prompt on
stdin (`-`), a read-only sandbox, an empty work folder.

The Ollama double calls Codex's first tool (exec_command) with a minimal instance of its schema; Codex answers
that call with a tool output and asks again, so one `codex exec` is a tool round trip of two requests.
Codex shows no response headers: the tier comes from the tracker and the Ollama double's log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clients.stack import ClientStack, assert_no_litellm_text, offline_env, run_cli
from tests.support.processes import REPO

CODEX = REPO / "cli-proxy" / "node_modules" / ".bin" / "codex"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CODEX.exists(), reason="Codex is not installed: run `npm ci --prefix cli-proxy`"),
]


def config_toml(gateway_v1: str) -> str:
    """The file README shows, with this test's gateway address."""
    return f"""model = "max-auto"
model_provider = "maximus"

[model_providers.maximus]
name = "Maximus"
base_url = "{gateway_v1}"
env_key = "MAXIMUS_API_KEY"
wire_api = "responses"
"""


def test_codex_exec_streams_a_local_answer(maximus: ClientStack, tmp_path: Path) -> None:
    home, codex_home, work = tmp_path / "home", tmp_path / "codex", tmp_path / "work"
    for folder in (codex_home, work):
        folder.mkdir(parents=True)
    (codex_home / "config.toml").write_text(config_toml(maximus.openai_base_url))
    env = offline_env(home, CODEX_HOME=str(codex_home), MAXIMUS_API_KEY=maximus.key)
    mark = maximus.mark()
    cmd = [str(CODEX), "exec", "--json", "--skip-git-repo-check", "--ephemeral", "-s", "read-only", "-"]
    ran = run_cli(cmd, env=env, cwd=work, stdin="say hello")
    assert maximus.key not in ran.stdout + ran.stderr, "the key is never printed"
    assert_no_litellm_text(ran.stdout)
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    kinds = [e["type"] for e in events]
    assert "turn.failed" not in kinds and "error" not in kinds, events
    assert ran.returncode == 0, ran.stderr[-2000:]
    messages = [
        e["item"]["text"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "agent_message"
    ]
    assert messages and messages[-1].startswith("Local answer from "), messages
    usage = next(e["usage"] for e in events if e["type"] == "turn.completed")
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    made = maximus.assert_counted(mark)
    assert {r.path for r in made} == {"/v1/responses"}
    maximus.assert_tools_went_to_a_tools_model(mark)
