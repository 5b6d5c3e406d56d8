"""README's "Use it from ..." settings are the ones the real-client tests run: a changed setting on either side fails
here, before a reader copies something no test ran. Reads README only; starts nothing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.clients.stack import offline_env
from tests.clients.test_claude_code_headless_through_the_gateway import claude_env
from tests.clients.test_codex_exec_through_the_gateway import config_toml
from tests.clients.test_llm_cli_through_the_gateway import extra_models
from tests.support.processes import REPO

GATEWAY = "http://127.0.0.1:4000"


def section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Use it from ...")
    return text[start : text.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_codex_config_is_the_tested_one() -> None:
    (shown,) = blocks("toml")
    assert tomllib.loads(shown) == tomllib.loads(config_toml(f"{GATEWAY}/v1"))


def test_llm_models_file_is_the_tested_one() -> None:
    shown = [b for b in blocks("yaml") if "api_key_name" in b]
    assert len(shown) == 1
    assert yaml.safe_load(shown[0]) == extra_models(f"{GATEWAY}/v1")


class _Gateway:
    base_url = GATEWAY
    key = "<key>"


def test_claude_code_variables_are_the_tested_ones(tmp_path: Path) -> None:
    (shell,) = [b for b in blocks("sh") if "ANTHROPIC_BASE_URL" in b]
    shown = dict(re.findall(r"([A-Z_]+)=(\S+)", re.sub(r"#.*", "", shell)))
    tested = {k: v for k, v in claude_env(_Gateway(), tmp_path).items() if k not in offline_env(tmp_path)}
    tested.pop("CLAUDE_CONFIG_DIR")  # the tests' throwaway config folder; a user keeps ~/.claude
    assert shown == tested
