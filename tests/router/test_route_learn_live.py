"""`maximus route learn` against a running gateway (the real LiteLLM proxy with our hook, backends on doubles):
the gateway picks the adapter up without a restart and its decisions move, with the reason `adapter`; an
adapter the guard refuses (it ranks held-back labels worse) leaves every decision as it was; `--reset` brings
the shipped model's decisions back. Labels are tests/router/test_route_learn.py's (MMLU domains)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from router.config import default_config_path
from tests.router.test_route_learn import HARD, _questions, in_domain_lines, misleading_lines
from tests.support import stack

pytestmark = pytest.mark.integration

REFRESH_S = 0.2  # learning.refresh_s: how often the gateway re-reads the adapter's id
WAIT_S = 20.0


@pytest.fixture(scope="module")
def routing_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped routing.yaml, the adapter re-read every REFRESH_S, the online threshold controller off (so only
    the adapter can move a decision) and the budget uncapped."""
    raw = yaml.safe_load(default_config_path().read_text())
    raw["budget"].update({"monthly_usd": 0, "refresh_s": 0})
    raw["sovereignty_online"]["enabled"] = False
    raw["learning"]["refresh_s"] = REFRESH_S
    path = tmp_path_factory.mktemp("learn-live") / "routing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def gateway(workdir, ollama_double, redis_server, routing_config) -> Iterator[stack.LiteLLMProxy]:
    with stack.openai_double(workdir, "cli-learn") as cli:
        backends = {
            "OLLAMA_API_BASE": ollama_double.base_url,
            "REDIS_URL": redis_server.url,
            "CLI_PROXY_API_BASE": cli.base_url,
            "MAXIMUS_ROUTING_CONFIG": str(routing_config),
        }
        with stack.litellm_proxy(workdir, backends) as running:
            yield running


def _learn(args: list[str], redis_url: str, routing: Path) -> dict:
    env = {**os.environ, "MAXIMUS_REDIS_URL": redis_url, "MAXIMUS_ROUTING_CONFIG": str(routing)}
    done = subprocess.run(
        [sys.executable, "-m", "maximus.cli", "route", "learn", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _labels_file(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _decisions(gateway: stack.LiteLLMProxy, prompts: list[str]) -> list[tuple[str, str]]:
    """(tier, reason header) of each prompt, asked through the running gateway."""
    out = []
    for prompt in prompts:
        body = {"model": "max-auto", "messages": [{"role": "user", "content": prompt}]}
        response = httpx.post(
            f"{gateway.openai_base_url}/chat/completions", json=body, headers=gateway.headers(), timeout=60
        )
        assert response.status_code == 200, response.text
        out.append((response.headers["x-maximus-tier"], response.headers["x-maximus-route-reason"]))
    return out


def _until(check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(REFRESH_S)


def test_route_learn_reloads_in_the_running_gateway_and_the_guard_keeps_its_decisions(
    gateway, redis_server, routing_config, tmp_path
) -> None:
    prompts = _questions(HARD)[-10:]  # held out of the in-domain labels
    before = _decisions(gateway, prompts)
    assert not any("adapter" in reason for _, reason in before)

    refused = _learn([_labels_file(tmp_path, "worse.jsonl", misleading_lines())], redis_server.url, routing_config)
    assert refused["used"] is False and refused["guard"]["adapted_apgr"] < refused["guard"]["shipped_apgr"]
    time.sleep(5 * REFRESH_S)  # several re-reads: the gateway has the refused adapter, and must not use it
    assert _decisions(gateway, prompts) == before

    used = _learn([_labels_file(tmp_path, "in-domain.jsonl", in_domain_lines())], redis_server.url, routing_config)
    assert used["used"] is True

    def moved() -> list[tuple[str, str]] | None:
        now = _decisions(gateway, prompts)
        return now if any(tier != "local" for tier, _ in now) else None

    after = _until(moved)
    assert after, "the running gateway never used the new adapter"
    assert all("adapter: need score" in reason for _, reason in after)
    moved_prompts = [(b, a) for b, a in zip(before, after, strict=True) if a[0] != b[0]]
    assert moved_prompts and all("moved it to a strong tier" in reason for _, (_, reason) in moved_prompts)

    assert _learn(["--reset"], redis_server.url, routing_config) == {"reset": True, "removed": True}
    assert _until(lambda: _decisions(gateway, prompts) == before), "--reset did not bring the shipped decisions back"
