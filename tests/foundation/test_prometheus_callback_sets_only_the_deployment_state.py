"""LiteLLM's "prometheus" callback is maximus.deployment_state's logger: a success sets the deployment's state to
0 with LiteLLM's labels and nothing else; failures keep LiteLLM's own handler (the exported metrics themselves:
test_litellm_exports_only_the_deployment_state)."""

from __future__ import annotations

import asyncio
from typing import Any

from litellm.integrations.prometheus import PrometheusLogger
from litellm.litellm_core_utils import litellm_logging

from maximus import deployment_state
from maximus.deployment_state import DeploymentStateLogger


def test_install_makes_litellm_build_the_deployment_state_logger() -> None:
    saved = litellm_logging._PrometheusLogger  # type: ignore[attr-defined]
    try:
        deployment_state.install()
        built = litellm_logging._get_cached_prometheus_logger()
    finally:
        litellm_logging._PrometheusLogger = saved  # type: ignore[attr-defined]
    assert built is DeploymentStateLogger and issubclass(built, PrometheusLogger)
    assert DeploymentStateLogger.async_log_failure_event is PrometheusLogger.async_log_failure_event


class _Recorder(DeploymentStateLogger):
    def __init__(self) -> None:  # no metrics registered: the handler's calls are recorded
        self.states: list[dict[str, Any]] = []

    def set_deployment_healthy(self, **labels: Any) -> None:  # type: ignore[override]
        self.states.append(labels)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the success handler used {name}: only the deployment state may be set")


def test_a_success_sets_the_deployment_healthy_with_litellm_labels_only() -> None:
    kwargs = {
        "model": "gemma3",
        "standard_logging_object": {"api_base": "http://127.0.0.1:11434/api/chat", "model_group": "max-buddy"},
        "litellm_params": {"custom_llm_provider": "ollama_chat", "metadata": {"model_info": {"id": "d2"}}},
    }
    recorder = _Recorder()
    asyncio.run(recorder.async_log_success_event(kwargs, None, None, None))
    assert recorder.states == [
        {
            "litellm_model_name": "gemma3",
            "model_id": "d2",
            "api_base": "http://127.0.0.1:11434/api/chat",
            "api_provider": "ollama_chat",
        }
    ]
