"""The proxy does not see the stack's Redis as LiteLLM's "coordination Redis" (maximus.litellm_env): no
per-request rate-limit script or usage counters of LiteLLM's virtual keys, which Maximus never reads. The
router's shared cooldowns still live in that Redis (rendered router_settings), and Maximus's own code still
finds it (MAXIMUS_REDIS_URL)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from maximus import litellm_env
from tests.support.stack import litellm_proxy, ollama_double, redis_server


def test_redis_variables_are_kept_for_maximus_and_hidden_from_litellm() -> None:
    env = litellm_env.gateway_environment({"REDIS_URL": "redis://r:1/0", "REDIS_PASSWORD": "p", "PATH": "/bin"})
    assert not [name for name in env if name.startswith("REDIS_")]
    assert env["MAXIMUS_REDIS_URL"] == "redis://r:1/0" and env["PATH"] == "/bin"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True" and env["LITELLM_MODE"] == "PRODUCTION"
    chosen = litellm_env.gateway_environment({"REDIS_URL": "redis://r:1/0", "MAXIMUS_REDIS_URL": "redis://m:2/0"})
    assert chosen["MAXIMUS_REDIS_URL"] == "redis://m:2/0", "an explicit MAXIMUS_REDIS_URL wins, as for every reader"


def _keys(port: int) -> list[str]:
    out = subprocess.run(["redis-cli", "-p", str(port), "--scan"], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.integration
def test_a_request_writes_no_litellm_usage_counter_to_redis(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path) as redis,
        ollama_double(tmp_path) as double,
        litellm_proxy(tmp_path, {"OLLAMA_API_BASE": double.base_url, "REDIS_URL": redis.url}) as proxy,
        httpx.Client(base_url=proxy.base_url, headers=proxy.headers(), timeout=60) as client,
    ):
        for _ in range(3):
            answer = client.post(
                "/v1/chat/completions", json={"model": "max-buddy", "messages": [{"role": "user", "content": "hi"}]}
            )
            assert answer.status_code == 200, answer.text
        failed = client.post(
            "/v1/chat/completions", json={"model": "max-vision", "messages": [{"role": "user", "content": "hi"}]}
        )  # its backend is a closed port: LiteLLM cools the deployment down in the shared Redis
        assert failed.status_code >= 500
        keys = _keys(redis.port)
    counters = [key for key in keys if key.startswith("{") or "global_router" in key or ":tokens" in key]
    assert not [k for k in counters if "api_key" in k or "model_per_key" in k], counters
    assert any(key.startswith("maximus:") for key in keys), keys  # Maximus's own code found the Redis
