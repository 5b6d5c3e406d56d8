"""The .env file and the stack's environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from maximus import environment
from maximus.stack import service


@pytest.fixture(autouse=True)
def no_keys_in_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in environment.GENERATED_KEYS:
        monkeypatch.delenv(name, raising=False)


def test_missing_keys_are_generated_and_existing_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("MAXIMUS_MASTER_KEY=sk-mine\nOLLAMA_CHAT_MODEL=qwen3")
    created = environment.ensure_keys(path)
    values = dotenv_values(path)
    assert set(created) == set(environment.GENERATED_KEYS) - {"MAXIMUS_MASTER_KEY"}
    assert values["MAXIMUS_MASTER_KEY"] == "sk-mine" and values["OLLAMA_CHAT_MODEL"] == "qwen3"
    assert values["CLI_PROXY_API_KEY"] and values["CLI_PROXY_API_KEY"] != values["TRACKER_API_KEY"]
    assert path.stat().st_mode & 0o077 == 0
    assert environment.ensure_keys(path) == [], "a second run changes nothing"
    assert dotenv_values(path) == values


def test_backend_addresses_follow_port_overrides(tmp_path: Path) -> None:
    env = environment.stack_environment({"OLLAMA_PORT": "12000", "CLI_PROXY_PORT": "18080"}, tmp_path / "none")
    assert env["OLLAMA_API_BASE"] == "http://127.0.0.1:12000"
    assert env["CLI_PROXY_API_BASE"] == "http://127.0.0.1:18080/v1"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_an_explicit_address_wins_over_the_derived_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OLLAMA_API_BASE=http://gpu-box:11434\n")
    env = environment.stack_environment({}, tmp_path / ".env")
    assert env["OLLAMA_API_BASE"] == "http://gpu-box:11434"


def test_a_bad_port_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="LITELLM_PORT"):
        service("litellm").port({"LITELLM_PORT": "four thousand"})
