"""Simon Willison's `llm` CLI (pinned in pyproject.toml) against the gateway, set up as README's "Use it from ..."
says: an extra-openai-models.yaml in LLM_USER_PATH that names the gateway as api_base, and the key stored with
`llm keys set maximus` (read from stdin, never on the command line).

`llm` shows no response headers, so the tier is read from the tracker (per tier) and the Ollama double's log.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.clients.stack import CLIENT_TIMEOUT_S, ClientStack, assert_no_litellm_text, offline_env

pytestmark = pytest.mark.integration

LLM = str(Path(sys.executable).parent / "llm")


def extra_models(gateway_v1: str) -> list[dict]:
    """The file README shows, with this test's gateway address."""
    return [
        {"model_id": model, "model_name": model, "api_base": gateway_v1, "api_key_name": "maximus"}
        for model in ("max-auto", "max-buddy")
    ]


@pytest.fixture(scope="module")
def llm_env(maximus: ClientStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("llm-home")
    user_path = home / "llm"
    user_path.mkdir()
    (user_path / "extra-openai-models.yaml").write_text(yaml.safe_dump(extra_models(maximus.openai_base_url)))
    env = offline_env(home, LLM_USER_PATH=str(user_path))
    done = subprocess.run(
        [LLM, "keys", "set", "maximus"], input=maximus.key + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert maximus.key not in done.stdout + done.stderr
    return env


@pytest.mark.parametrize("model", ["max-auto", "max-buddy"])
def test_prompt_answers_locally(maximus: ClientStack, llm_env: dict[str, str], model: str) -> None:
    mark = maximus.mark()
    done = subprocess.run(
        [LLM, "-m", model, "--no-log"],
        input="say hello",
        env=llm_env,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Local answer from "), done.stdout
    assert_no_litellm_text(done.stdout, done.stderr)
    maximus.assert_counted(mark)
    assert maximus.chats_since(mark), "the local tier answered"
