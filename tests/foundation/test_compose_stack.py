"""The compose stack, brought up for real where a Docker engine answers (skipped with the reason otherwise)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from maximus import compose, environment
from maximus.stack import REPO_ROOT

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not compose.engine_available(), reason="no Docker engine answers `docker info` here"),
]


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from testcontainers.compose import DockerCompose

    env_file = tmp_path_factory.mktemp("compose") / ".env"
    environment.ensure_keys(env_file)
    stack = DockerCompose(
        str(REPO_ROOT),
        compose_file_name="compose.yaml",
        env_file=str(env_file),
        build=True,
        wait=True,
        services=["redis", "tracker", "cli-proxy", "vision", "ollama", "litellm"],
    )
    with stack:
        yield env_file.read_text()


def test_gateway_answers_models_on_the_published_port(compose_stack: str) -> None:
    key = next(line.split("=", 1)[1] for line in compose_stack.splitlines() if line.startswith("MAXIMUS_MASTER_KEY"))
    response = httpx.get("http://127.0.0.1:4000/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200
    assert {"max-auto", "max-buddy", "max-genius", "max-vision"} <= {m["id"] for m in response.json()["data"]}


def test_only_the_gateway_and_grafana_are_reachable_from_the_host(compose_stack: str) -> None:
    for port in (8080, 8001, 8002, 6379, 11434):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
