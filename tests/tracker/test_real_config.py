"""The tracker behind the project's own proxy (litellm/config.yaml, the real routing hook, the Ollama double):
each request is counted once, in its tier, with the router's reasons. Uses the session fixtures of
tests/conftest.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import REPO
from tests.tracker.conftest import TrackerProcess, wait_consumed

pytestmark = pytest.mark.integration
CALLBACK = "tracker.litellm_callback.event_publisher"


def registered_callbacks() -> list[str]:
    config = yaml.safe_load((REPO / "litellm" / "config.yaml").read_text())
    return list((config.get("litellm_settings") or {}).get("callbacks") or [])


def test_the_project_config_registers_the_tracker_callback() -> None:
    assert CALLBACK in registered_callbacks(), f"litellm/config.yaml must register {CALLBACK}"


@pytest.fixture
def tracker(redis_server, tmp_path: Path) -> Iterator[TrackerProcess]:
    proc = TrackerProcess(redis_server.url, tmp_path / "tracker", litellm_config=REPO / "litellm" / "config.yaml")
    proc.start()
    yield proc
    proc.stop()


def test_requests_through_the_real_gateway_are_counted_once(
    tracker: TrackerProcess, litellm_proxy, redis_server
) -> None:
    call_ids = []
    for stream in (False, True, False):
        body = {"model": "max-auto", "stream": stream, "messages": [{"role": "user", "content": "hello there"}]}
        with httpx.stream(
            "POST",
            f"{litellm_proxy.base_url}/v1/chat/completions",
            json=body,
            headers=litellm_proxy.headers(),
            timeout=60,
        ) as response:
            response.read()
            assert response.status_code == 200, response.text
            call_ids.append(response.headers["x-litellm-call-id"])
    audit_path = tracker.directory / "audit" / "audit.jsonl"
    deadline = time.monotonic() + 60
    lines: list[dict] = []
    while time.monotonic() < deadline:
        text = audit_path.read_text() if audit_path.exists() else ""
        lines = [json.loads(line) for line in text.splitlines()]
        if {line["call_id"] for line in lines} >= set(call_ids):
            break
        time.sleep(0.2)
    wait_consumed(redis_server.url)
    ours = [line for line in lines if line["call_id"] in call_ids]
    assert sorted(line["call_id"] for line in ours) == sorted(call_ids)  # each exactly once
    for line in ours:
        assert line["tier"] == "local" and line["outcome"] == "success" and line["model"].startswith("max-")
        assert line["route_reasons"] and line["routed_tier"] == "local"
        assert line["prompt_tokens"] > 0 and line["completion_tokens"] > 0
    assert "hello there" not in audit_path.read_text()
