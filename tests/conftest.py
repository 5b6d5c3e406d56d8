"""Session fixtures that start real processes: Redis, the Ollama double, and the LiteLLM proxy.

Each fixture yields an object with the addresses a test needs; everything started is stopped at the end.
Tests that need a differently configured proxy use tests.support.stack.litellm_proxy directly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import stack

# Tests that import LiteLLM must not retry a download of its price table (no network here), nor load the
# checkout's .env (LiteLLM's DEV mode does, at import): a developer's own keys must not leak into the tests.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["LITELLM_MODE"] = "PRODUCTION"
# Likewise every `maximus` process a test starts reads no .env unless the test gives it one.
os.environ["MAXIMUS_ENV_FILE"] = "/nonexistent/maximus-tests.env"


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def redis_server(workdir: Path) -> Iterator[stack.RedisServer]:
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed: run .ci/run or `apt-get install redis-server`")
    with stack.redis_server(workdir) as server:
        yield server


@pytest.fixture(scope="session")
def ollama_double(workdir: Path) -> Iterator[stack.HttpDouble]:
    with stack.ollama_double(workdir) as double:
        yield double


@pytest.fixture(scope="session")
def litellm_proxy(
    workdir: Path, ollama_double: stack.HttpDouble, redis_server: stack.RedisServer
) -> Iterator[stack.LiteLLMProxy]:
    """The real proxy with our config: local tier on the Ollama double, shared state in the test Redis."""
    backends = {"OLLAMA_API_BASE": ollama_double.base_url, "REDIS_URL": redis_server.url}
    with stack.litellm_proxy(workdir, backends) as proxy:
        yield proxy
