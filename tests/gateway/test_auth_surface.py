"""On the gateway only health and metrics answer without the key, and the open metrics carry no key hash, client
address or user identifier."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest

from tests.support.stack import LiteLLMProxy

pytestmark = pytest.mark.integration

OPEN_PATHS = {"/health/liveliness", "/health/liveness", "/health/readiness", "/metrics", "/metrics/"}
IDENTIFYING_LABELS = (
    "hashed_api_key",
    "api_key_alias",
    "client_ip",
    "user_agent",
    "end_user",
    "user",
    "user_email",
    "team",
    "team_alias",
    "org_id",
)

# Every route of LiteLLM's app (FastAPI keeps included routers as branches: walk them), Mounts included.
_LIST_ROUTES = """
import json
from litellm.proxy.proxy_server import app
routes = []
for route in app.routes:
    for leaf in getattr(route, "effective_route_contexts", lambda: [route])():
        routes.append([leaf.path or "/", sorted(getattr(leaf, "methods", None) or ["GET"])])
print(json.dumps(routes))
"""


def _gateway_routes() -> list[tuple[str, str]]:
    out = subprocess.run([sys.executable, "-c", _LIST_ROUTES], capture_output=True, text=True, timeout=120, check=True)
    routes = [*json.loads(out.stdout.strip().splitlines()[-1]), ["/ui/", ["GET"]]]
    pairs = {(re.sub(r"\{[^}]+\}", "x", path), method) for path, methods in routes for method in methods}
    return sorted(pairs)


def test_only_health_and_metrics_answer_without_the_key(litellm_proxy: LiteLLMProxy) -> None:
    routes = _gateway_routes()
    assert len(routes) > 100  # the enumeration really saw LiteLLM's app
    open_routes = []
    with httpx.Client(base_url=litellm_proxy.base_url, timeout=30) as client:
        for path, method in routes:
            status = client.request(
                method, path, headers={"content-type": "application/json"}, content=b"{}"
            ).status_code
            if status != 401:
                open_routes.append((method, path, status))
    unexpected = [r for r in open_routes if r[1] not in OPEN_PATHS]
    assert unexpected == []
    assert {path for _, path, _ in open_routes} >= {"/health/liveliness", "/health/readiness"}


def test_a_wrong_key_is_refused_on_documentation_routes(litellm_proxy: LiteLLMProxy) -> None:
    for path in ("/openapi.json", "/redoc", "/docs", "/ui/"):
        response = httpx.get(f"{litellm_proxy.base_url}{path}", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert response.status_code == 401, path
        assert response.json()["error"]["type"] == "authentication_error"


def test_open_metrics_carry_no_identifying_labels(litellm_proxy: LiteLLMProxy) -> None:
    body = {"model": "max-buddy", "messages": [{"role": "user", "content": "count me"}]}
    answered = httpx.post(
        f"{litellm_proxy.openai_base_url}/chat/completions", json=body, headers=litellm_proxy.headers(), timeout=60
    )
    assert answered.status_code == 200, answered.text
    metrics = httpx.get(f"{litellm_proxy.base_url}/metrics/", timeout=30)
    assert metrics.status_code == 200
    assert "litellm_deployment_state{" in metrics.text  # the one LiteLLM metric exported (litellm/config.yaml)
    labels = set(re.findall(r"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=", metrics.text))
    assert labels & set(IDENTIFYING_LABELS) == set()
    assert litellm_proxy.master_key not in metrics.text
