"""The rendered LiteLLM config: the local embedding group always, the cloud embedding group only with its key and
never in a fallback chain."""

from __future__ import annotations

from maximus import litellm_config

BASE_ENV = {"REDIS_URL": "redis://127.0.0.1:6390/0"}


def groups(config: dict) -> dict[str, dict]:
    return {entry["model_name"]: entry for entry in config["model_list"]}


def test_max_embed_is_a_local_ollama_embedding_group_named_by_the_environment() -> None:
    embed = groups(litellm_config.render(BASE_ENV))["max-embed"]
    assert embed["litellm_params"]["model"] == "ollama/embeddinggemma", "ollama_chat/ has no embedding route"
    assert embed["model_info"]["sovereign_tier"] == "local" and embed["model_info"]["mode"] == "embedding"
    assert embed["model_info"]["cooldown_time"] == 0 and embed["litellm_params"]["num_retries"] == 0
    custom = groups(litellm_config.render({**BASE_ENV, "OLLAMA_EMBED_MODEL": "nomic-embed-text"}))["max-embed"]
    assert custom["litellm_params"]["model"] == "ollama/nomic-embed-text"


def test_the_cloud_embedding_group_needs_its_key_and_is_never_a_fallback() -> None:
    assert "text-embedding-3-small" not in groups(litellm_config.render(BASE_ENV))
    config = litellm_config.render({**BASE_ENV, "OPENAI_API_KEY": "set", "OPENAI_API_BASE": "http://127.0.0.1:9/v1"})
    cloud = groups(config)["text-embedding-3-small"]
    assert (cloud["model_info"]["sovereign_tier"], cloud["model_info"]["mode"]) == ("cloud", "embedding")
    assert cloud["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1"
    targets = [t for rule in config["router_settings"]["fallbacks"] for chain in rule.values() for t in chain]
    assert "max-cloud-openai" in targets and "text-embedding-3-small" not in targets
    rules = config["router_settings"]["fallbacks"]
    assert "max-embed" not in targets and all("max-embed" not in rule for rule in rules)
    assert litellm_config.enabled_cloud_groups({"OPENAI_API_KEY": "set"}) == {"max-cloud-openai": "OPENAI_API_KEY"}
