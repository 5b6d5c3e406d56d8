"""LiteLLM's Prometheus callback exports only what Maximus reads: litellm_deployment_state (the
MaximusDeploymentDown alert), 0 for a deployment that answered and 1 for one that failed; the rest of its metrics
(about 1.4 ms of CPU per request, bench.gateway) stays off."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.stack import litellm_proxy, ollama_double

pytestmark = pytest.mark.integration


def test_deployment_state_exported_and_the_other_metrics_off(tmp_path: Path) -> None:
    with (
        ollama_double(tmp_path) as double,
        litellm_proxy(tmp_path, {"OLLAMA_API_BASE": double.base_url}) as proxy,
        httpx.Client(base_url=proxy.base_url, headers=proxy.headers(), timeout=60) as client,
    ):
        ok = client.post(
            "/v1/chat/completions", json={"model": "max-buddy", "messages": [{"role": "user", "content": "hello"}]}
        )
        assert ok.status_code == 200, ok.text
        failed = client.post(
            "/v1/chat/completions", json={"model": "max-vision", "messages": [{"role": "user", "content": "hello"}]}
        )  # its backend is a closed port
        assert failed.status_code >= 500
        text = httpx.get(f"{proxy.base_url}/metrics/", timeout=30).text
    states = dict(re.findall(r"^litellm_deployment_state\{([^}]*)\} (\S+)$", text, re.MULTILINE))
    assert any("gemma3" in labels and value == "0.0" for labels, value in states.items()), states
    assert any("vjepa2" in labels and value == "1.0" for labels, value in states.items()), states
    exported = {m.group(1) for m in re.finditer(r"^(litellm_[a-z_]+?)(?:_total|_bucket|_count|_sum)?\{", text, re.M)}
    assert exported == {"litellm_deployment_state"}, exported
