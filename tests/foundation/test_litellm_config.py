"""Rendering litellm/config.yaml: environment expansion, cloud groups only with keys, no pitfalls."""

from __future__ import annotations

from typing import Any

import pytest

from maximus import litellm_config

BASE_ENV = {"REDIS_URL": "redis://127.0.0.1:6390/0"}


def groups(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["model_name"]: entry for entry in config["model_list"]}


def fallbacks(config: dict[str, Any]) -> dict[str, list[str]]:
    return {group: targets for rule in config["router_settings"]["fallbacks"] for group, targets in rule.items()}


def test_local_models_come_from_the_environment_with_defaults() -> None:
    default = groups(litellm_config.render(BASE_ENV))
    assert default["max-buddy"]["litellm_params"]["model"] == "ollama_chat/gemma3"
    assert default["max-planner"]["litellm_params"]["model"] == "ollama_chat/llama3.1"
    custom = groups(litellm_config.render({**BASE_ENV, "OLLAMA_CHAT_MODEL": "qwen3:8b"}))
    assert custom["max-buddy"]["litellm_params"]["model"] == "ollama_chat/qwen3:8b"


def test_no_cloud_group_without_keys() -> None:
    config = litellm_config.render(BASE_ENV)
    assert not [name for name in groups(config) if name.startswith("max-cloud")]
    assert all("max-cloud" not in " ".join(t) for t in fallbacks(config).values())


def test_a_cloud_key_adds_its_group_as_the_last_resort_of_power_and_creative_only() -> None:
    config = litellm_config.render({**BASE_ENV, "OPENAI_API_KEY": "set", "OPENAI_API_BASE": "http://127.0.0.1:9/v1"})
    cloud = groups(config)["max-cloud-openai"]
    assert cloud["litellm_params"]["api_key"] == "os.environ/OPENAI_API_KEY", "the key itself stays out of the file"
    assert cloud["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1"
    chains = fallbacks(config)
    assert chains["max-genius"] == ["max-buddy", "max-cloud-openai"]
    assert chains["max-opus"] == ["max-buddy", "max-cloud-openai"]
    assert "max-cloud-openai" not in chains["max-buddy"] + chains["max-planner"]


def test_no_fallback_setting_that_could_carry_a_local_request_to_the_cloud() -> None:
    settings = litellm_config.render({**BASE_ENV, "OPENAI_API_KEY": "set"})["router_settings"]
    assert "context_window_fallbacks" not in settings and "default_fallbacks" not in settings


def test_every_deployment_names_its_tier_without_the_reserved_key() -> None:
    for name, entry in groups(litellm_config.render({**BASE_ENV, "GEMINI_CLOUD_API_KEY": "set"})).items():
        info = entry["model_info"]
        assert "tier" not in info, f"{name}: model_info.tier is reserved by LiteLLM and drops the deployment"
        assert info["sovereign_tier"] in {"local", "power", "creative", "vision", "cloud"}
        assert "input_cost_per_token" in info and "output_cost_per_token" in info


def test_stream_usage_survives_rerouting_and_redis_is_shared() -> None:
    config = litellm_config.render(BASE_ENV)
    assert config["general_settings"]["always_include_stream_usage"] is True
    assert config["router_settings"]["redis_port"] == 6390
    assert config["general_settings"]["master_key"] == "os.environ/MAXIMUS_MASTER_KEY"


def test_a_placeholder_without_default_must_be_set(tmp_path) -> None:
    (tmp_path / "config.yaml").write_text("model_list:\n  - model_name: ${NEEDED}\n")
    with pytest.raises(KeyError, match="NEEDED"):
        litellm_config.render({}, tmp_path)


def test_logging_the_gemini_cli_in_does_not_switch_the_cloud_on() -> None:
    """GEMINI_API_KEY is the Gemini CLI's login (power tier); the cloud fallback has its own variable."""
    assert not [n for n in groups(litellm_config.render({**BASE_ENV, "GEMINI_API_KEY": "set"})) if "cloud" in n]
    assert litellm_config.enabled_cloud_groups({"GEMINI_API_KEY": "set"}) == {}
    assert litellm_config.enabled_cloud_groups({"GEMINI_CLOUD_API_KEY": "k"}) == {
        "max-cloud-gemini": "GEMINI_CLOUD_API_KEY"
    }
