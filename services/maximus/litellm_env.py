"""The environment of the LiteLLM proxy process (`maximus serve litellm`).

LiteLLM reads any REDIS_* variable (REDIS_URL, REDIS_HOST, ...) as a "coordination Redis" for its own
virtual-key spend counters and rate limits: with it, every request made a Redis round trip before the call (its
parallel-request limiter's script) and queued counter writes after it, work Maximus never reads (it has no
LiteLLM keys, budgets or limits; budgets are the tracker's). The stack's Redis reaches the proxy's settings
through the rendered config instead (router_settings: shared cooldowns), and Maximus's own code in the process
through MAXIMUS_REDIS_URL (every reader takes it before REDIS_URL: routing.yaml redis_url_envs, team_auth,
the tracker callback), so the REDIS_* variables are moved out of the proxy's sight.
"""

from __future__ import annotations

from collections.abc import Mapping

REDIS_PREFIX = "REDIS_"  # what LiteLLM's _redis_kwargs_from_environment reads
# The price table ships with the package; without this start-up retries a download. We hand LiteLLM its whole
# environment; in its default DEV mode it would also read any .env it finds.
LITELLM_DEFAULTS = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"}


def gateway_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for the proxy: REDIS_URL kept as MAXIMUS_REDIS_URL (unless that is set), no REDIS_* variable,
    LiteLLM's start-up defaults."""
    result = {name: value for name, value in env.items() if not name.startswith(REDIS_PREFIX)}
    if not result.get("MAXIMUS_REDIS_URL") and env.get("REDIS_URL"):
        result["MAXIMUS_REDIS_URL"] = env["REDIS_URL"]
    for name, value in LITELLM_DEFAULTS.items():
        result.setdefault(name, value)
    return result
