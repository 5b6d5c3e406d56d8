"""The real compose stack, built and run in containers (`make test-compose`; skipped without an engine).

compose.yaml as users run it, with compose.test.yaml replacing only Ollama (by the project's Ollama double) and
leaving out Grafana and the model pull. Requests come through the published gateway port with the official
openai client; everything else is looked at from inside the stack's network.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from maximus import compose
from tests.compose.stack import ComposeStack, counter_total, wait_for
from tests.vision.media import b64, image_bytes, pattern

# A whole stack takes minutes: it runs in `make test-compose` (which sets this), not in every `make test`.
if os.environ.get("MAXIMUS_TEST_COMPOSE"):
    UNAVAILABLE = compose.unavailable_reason()
    REASON = f"compose mode cannot run here: {UNAVAILABLE}" if UNAVAILABLE else None
else:
    REASON = "the stack in containers runs in `make test-compose`"
pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]
SECRET = "ghp_" + "A1b2" * 9
TIERS = ("local", "power", "creative", "vision", "cloud")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    from vision.tiny import write_tiny_model

    workdir = tmp_path_factory.mktemp("compose-stack")
    model_dir = write_tiny_model(workdir / "models" / "vision", classifier=True)
    stack = ComposeStack(workdir)
    stack.write_env_file(model_dir)
    try:
        started = stack.maximus("up", "--mode", "compose")
        stack.up_result = started  # type: ignore[attr-defined]
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", timeout=300)


@pytest.fixture(scope="module")
def client(stack: ComposeStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=stack.key("MAXIMUS_MASTER_KEY"), max_retries=0, timeout=120)


def test_maximus_up_in_compose_mode_returns_0_and_prints_the_tiers(stack: ComposeStack) -> None:
    result: subprocess.CompletedProcess[str] = stack.up_result  # type: ignore[attr-defined]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Tiers" in result.stdout and all(tier in result.stdout for tier in TIERS), result.stdout[-4000:]
    assert "Mode:" in result.stdout


def test_status_in_the_gateway_container_sees_every_service(stack: ComposeStack) -> None:
    report = stack.compose("exec", "-T", "litellm", "maximus", "status", "--json")
    services = json.loads(report.stdout)["services"]
    assert {name for name, up in services.items() if not up} == set(), services


@pytest.mark.parametrize("model", ["max-buddy", "max-auto"])
def test_chat_models_answer_through_the_published_gateway(client: openai.OpenAI, model: str) -> None:
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hi in one word."}])
    assert reply.choices[0].message.content


@pytest.mark.parametrize("model", ["max-buddy", "max-auto"])
def test_chat_models_stream_through_the_published_gateway(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Count to three."}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text


def image_message(seed: int) -> list[dict]:
    url = "data:image/png;base64," + b64(image_bytes(pattern(48, 64, seed)))
    content = [{"type": "text", "text": "What is happening?"}, {"type": "image_url", "image_url": {"url": url}}]
    return [{"role": "user", "content": content}]


def test_max_vision_answers_with_the_mounted_model(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="max-vision", messages=image_message(1))
    assert raw.headers["x-litellm-model-group"] == "max-vision"
    assert raw.parse().choices[0].message.content


def test_the_tracker_counts_each_request_once(stack: ComposeStack, client: openai.OpenAI) -> None:
    wait_for(lambda: _settled(stack), 60, "the tracker caught up with earlier requests")
    before = stack.tracker_requests()
    for index in range(3):
        client.chat.completions.create(model="max-buddy", messages=[{"role": "user", "content": f"Ping {index}"}])
    client.chat.completions.create(model="max-vision", messages=image_message(2))
    wait_for(lambda: stack.tracker_requests() >= before + 4, 60, "4 requests counted")
    time.sleep(3)  # a duplicate would arrive within the consumer's next reads
    assert stack.tracker_requests() == before + 4


def _settled(stack: ComposeStack) -> bool:
    first = stack.tracker_requests()
    time.sleep(2)
    return stack.tracker_requests() == first


def test_prometheus_has_every_target_up_and_its_rules_loaded(stack: ComposeStack) -> None:
    def all_up() -> list[dict] | None:
        targets = stack.fetch_json("http://prometheus:9090/api/v1/targets")["data"]["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 90, "every Prometheus target up")
    assert {t["labels"]["job"] for t in targets} == {"tracker", "litellm", "cli-proxy", "vision"}
    groups = stack.fetch_json("http://prometheus:9090/api/v1/rules")["data"]["groups"]
    files = {Path(group["file"]).name for group in groups}
    assert files == {"recording.yml", "alerts.yml"}
    assert all(group["rules"] for group in groups)


def test_a_secret_bearing_genius_request_stays_local(stack: ComposeStack, client: openai.OpenAI) -> None:
    cli_before = counter_total(stack.fetch("http://cli-proxy:8080/metrics"), "cli_proxy_requests_total")
    raw = client.chat.completions.with_raw_response.create(
        model="max-genius", messages=[{"role": "user", "content": f"Say hi. My token is {SECRET}"}]
    )
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-maximus-tier"] == "local"
    assert SECRET not in raw.headers.get("x-maximus-route-reason", "")
    seen = stack.fetch_json("http://ollama:11434/_double/requests")
    assert any("Say hi. My token is" in json.dumps(r) for r in seen), "the local tier answered"
    assert counter_total(stack.fetch("http://cli-proxy:8080/metrics"), "cli_proxy_requests_total") == cli_before


def test_killing_the_tracker_container_loses_no_event(stack: ComposeStack, client: openai.OpenAI) -> None:
    wait_for(lambda: _settled(stack), 60, "the tracker caught up with earlier requests")
    before = stack.tracker_requests()
    client.chat.completions.create(model="max-buddy", messages=[{"role": "user", "content": "Before the kill"}])
    killed = stack.compose("kill", "--signal", "SIGKILL", "tracker")
    assert killed.returncode == 0, killed.stderr
    for index in range(3):
        client.chat.completions.create(model="max-buddy", messages=[{"role": "user", "content": f"While down {index}"}])
    restarted = stack.compose("up", "--detach", "--wait", "tracker", timeout=300)
    assert restarted.returncode == 0, restarted.stderr
    wait_for(lambda: stack.tracker_requests() >= before + 4, 90, "every event counted after the restart")
    time.sleep(3)
    assert stack.tracker_requests() == before + 4


def test_maximus_down_and_down_volumes_leave_nothing(stack: ComposeStack) -> None:
    stopped = stack.maximus("down", timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert stack.leftovers()["containers"] == []
    removed = stack.compose("down", "--volumes", "--remove-orphans")
    assert removed.returncode == 0, removed.stderr
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
