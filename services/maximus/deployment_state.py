"""LiteLLM's Prometheus callback reduced to what Maximus reads on a success: litellm_deployment_state (the
MaximusDeploymentDown alert, prometheus/rules/alerts.yml).

With one metric kept (litellm/config.yaml prometheus_metrics_config), LiteLLM's PrometheusLogger still builds
every label set of every metric on each successful request (rate-limit gauges, latency histograms, token
counters: about 5% of the gateway's busy samples under load, py-spy, bench.gateway). Its success handler here
sets the deployment state alone, with the labels and value LiteLLM's own handler sets; failures, fallbacks and
cooldowns keep LiteLLM's handlers unchanged (a failed deployment still reads 1).

LiteLLM builds the callback named "prometheus" lazily, from the class that
litellm_logging._get_cached_prometheus_logger caches; `install` puts this class there before the first request,
so the proxy keeps every other behaviour of the name "prometheus" (the /metrics/ mount, multiprocess set-up,
`isinstance(..., PrometheusLogger)` look-ups) and reads its settings from the config as before.
"""

from __future__ import annotations

from typing import Any

from litellm.integrations.prometheus import PrometheusLogger
from litellm.litellm_core_utils import litellm_logging
from litellm.litellm_core_utils.core_helpers import get_litellm_metadata_from_kwargs


class DeploymentStateLogger(PrometheusLogger):
    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """The deployment answered: its state is 0 (healthy), labelled as LiteLLM's
        set_llm_deployment_success_metrics labels it."""
        payload = kwargs.get("standard_logging_object") or {}
        litellm_params = kwargs.get("litellm_params") or {}
        model_info = get_litellm_metadata_from_kwargs(kwargs).get("model_info") or {}
        self.set_deployment_healthy(
            litellm_model_name=kwargs.get("model") or "",
            model_id=model_info.get("id") or "",
            api_base=payload.get("api_base") or "",
            api_provider=litellm_params.get("custom_llm_provider") or "",
        )


def install() -> None:
    """Make LiteLLM's "prometheus" callback a DeploymentStateLogger (call before the proxy serves a request)."""
    litellm_logging._PrometheusLogger = DeploymentStateLogger  # type: ignore[attr-defined]
