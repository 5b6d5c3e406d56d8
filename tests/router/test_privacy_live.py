"""Live proof of the privacy guard (issue 10): the real LiteLLM proxy with our hook, the power tier up (the real
CLI proxy running fake CLIs that record everything they receive), the local tier on the Ollama double, the
tracker's publisher on a private Redis.

Every positive of the privacy corpus (every kind in every field and position) is sent once through the proxy;
the model and streaming mode rotate over max-genius, max-opus and max-auto, streaming and not, so that every kind
and every position meets all six combinations (the full product, six times the corpus, costs minutes on two
cores and covers nothing more of the guard, which runs before the model matters). None may reach a CLI, while
clean requests to the same models do. Then no secret may appear in any log or store the stack wrote."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from tests.cli_proxy.conftest import API_KEY, make_config
from tests.router import privacy_corpus as corpus
from tests.support import stack
from tests.support.processes import REPO, free_port, running

pytestmark = pytest.mark.integration

COMBINATIONS = [(model, stream) for model in ("max-genius", "max-opus", "max-auto") for stream in (False, True)]
# Positions that are not a chat completion's: sent to the proxy's Responses and completions routes.
ENDPOINTS = {"responses_input": "responses", "responses_instructions": "responses", "completion_prompt": "completions"}
CLEAN = {
    "max-genius": "Say hello to the team.",
    "max-opus": "Write a two-line poem about tea.",
    "max-auto": "Write a Python function that merges overlapping intervals, with unit tests.",
}
LOCAL_GROUPS = ("max-buddy", "max-planner")
CONCURRENCY = 4  # requests in flight: the proxy is asynchronous, and two cores are busy with it and the doubles
# Pieces of a pasted text that identify it in a log: long runs without spaces or quotes.
_PIECE = re.compile(r"[^\s\"'`,;{}()\[\]<>]{16,}")


def _cases() -> list[tuple[corpus.Case, str, str, bool]]:
    """(case, position, model, stream): the position's index and the kind's index together pick the model and
    the streaming mode, so that each kind and each position meets every combination."""
    chosen = []
    kinds = [name for name, _ in corpus.SECRETS]
    positions = list(corpus.POSITIONS)
    for case in corpus.positive_cases():
        kind, position = case.id.rsplit("-", 1)[0], case.id.rsplit("-", 1)[1]
        model, stream = COMBINATIONS[(kinds.index(kind) + positions.index(position)) % len(COMBINATIONS)]
        chosen.append((case, position, model, stream))
    return chosen


def _pieces(text: str) -> set[str]:
    """What would betray a pasted text in a log: its long runs, and the same runs JSON-escaped."""
    escaped = json.dumps(text)[1:-1]
    return set(_PIECE.findall(text)) | set(_PIECE.findall(escaped))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("privacy-live")


@pytest.fixture(scope="module")
def record_path(home: Path) -> Path:
    return home / "cli-received.jsonl"


@pytest.fixture(scope="module")
def private_redis(home: Path) -> Iterator[stack.RedisServer]:
    """Redis with its append-only file on (fsync always), so that the store check also reads what hit the disk."""
    server = stack.RedisServer(free_port(), home / "redis")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    with running(server.command(persistent=True), log_path=home / "redis.log", port=server.port):
        yield server


@pytest.fixture(scope="module")
def cli_proxy(home: Path, record_path: Path) -> Iterator[str]:
    """`maximus serve cli-proxy` with the fake CLIs, each recording what it receives."""
    record = {"FAKE_CLI_RECORD": str(record_path)}
    clis = {
        "claude": {"env": record},
        "codex": {"env": record},
        "gemini": {"env": {**record, "GEMINI_API_KEY": "AIza" + "FakeKeyForTests" * 3}},
    }
    port = free_port()
    env = {
        "CLI_PROXY_CONFIG": str(make_config(home, clis)),
        "CLI_PROXY_API_KEY": API_KEY,
        "MAXIMUS_ENV_FILE": str(home / "absent.env"),
        "MAXIMUS_RUN_DIR": str(home / "cli-run"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [sys.executable, "-m", "maximus.cli", "serve", "cli-proxy", "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, env=env, log_path=home / "cli-proxy.log", health_url=f"http://127.0.0.1:{port}/healthz"):
        yield f"http://127.0.0.1:{port}/v1"


def _escalating_routing(home: Path) -> Path:
    """The shipped routing.yaml with a need threshold of 0 and no online shift: every clean max-auto request
    escalates, so a private one that stays local was kept there by the guard, not by the need score."""
    config = yaml.safe_load((REPO / "litellm" / "routing.yaml").read_text())
    config["need"]["threshold"] = 0.0
    config["sovereignty_online"]["enabled"] = False
    path = home / "routing-escalating.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def proxy(
    home: Path, ollama_double: stack.HttpDouble, private_redis: stack.RedisServer, cli_proxy: str
) -> Iterator[stack.LiteLLMProxy]:
    backends = {
        "MAXIMUS_ROUTING_CONFIG": str(_escalating_routing(home)),
        "OLLAMA_API_BASE": ollama_double.base_url,
        "REDIS_URL": private_redis.url,
        "CLI_PROXY_API_BASE": cli_proxy,
        "CLI_PROXY_API_KEY": API_KEY,
    }
    with stack.litellm_proxy(home, backends) as running_proxy:
        yield running_proxy


def _received(record_path: Path) -> list[dict[str, Any]]:
    if not record_path.exists():
        return []
    return [json.loads(line) for line in record_path.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Answer:
    case_id: str
    model: str
    stream: bool
    status: int
    tier: str | None  # x-maximus-tier: where the hook sent it
    group: str | None  # x-litellm-model-group: the deployment group LiteLLM called
    head: str


def _send(client: httpx.Client, proxy: stack.LiteLLMProxy, body: dict[str, Any], endpoint: str) -> Answer:
    url = f"{proxy.openai_base_url}/{endpoint}"
    with client.stream("POST", url, json=body, headers=proxy.headers()) as response:
        text = response.read().decode(errors="replace")
    headers = response.headers
    return Answer(
        "",
        body["model"],
        bool(body.get("stream")),
        response.status_code,
        headers.get("x-maximus-tier"),
        headers.get("x-litellm-model-group"),
        text[:300],
    )


def _body(case: corpus.Case, model: str, stream: bool) -> dict[str, Any]:
    body = {**case.body, "model": model}
    if stream:
        body["stream"] = True
    return body


def _send_case(
    client: httpx.Client, proxy: stack.LiteLLMProxy, case: corpus.Case, position: str, model: str, stream: bool
) -> Answer:
    answer = _send(client, proxy, _body(case, model, stream), ENDPOINTS.get(position, "chat/completions"))
    return dataclasses.replace(answer, case_id=case.id)


@pytest.fixture(scope="module")
def sent(proxy: stack.LiteLLMProxy, record_path: Path) -> list[Answer]:
    """Every positive sent through the proxy (once each), after the CLIs' earlier records are cleared."""
    record_path.unlink(missing_ok=True)
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        jobs = [pool.submit(_send_case, client, proxy, *chosen) for chosen in _cases()]
        return [job.result() for job in jobs]


def test_the_rotation_covers_every_kind_position_model_and_mode() -> None:
    cases = _cases()
    kinds = {name for name, _ in corpus.SECRETS}
    for kind in kinds:
        assert {(m, s) for c, _, m, s in cases if c.id.rsplit("-", 1)[0] == kind} == set(COMBINATIONS), kind
    for position in corpus.POSITIONS:
        assert {(m, s) for _, p, m, s in cases if p == position} == set(COMBINATIONS), position
    assert len(cases) == len(corpus.positive_cases())


def test_no_private_request_reaches_a_cli(sent: list[Answer], record_path: Path) -> None:
    received = _received(record_path)
    assert received == [], f"{len(received)} private requests reached a CLI: {[r['cli'] for r in received]}"
    # A request LiteLLM sent to the CLI proxy on a route it does not serve never reaches a CLI: the headers say
    # where each one went.
    escaped = [f"{a.case_id} {a.model} -> {a.tier}/{a.group}" for a in sent if a.group not in LOCAL_GROUPS]
    assert not escaped, escaped[:20]


def test_every_private_request_is_answered_by_the_local_tier(sent: list[Answer]) -> None:
    failed = [f"{a.case_id} {a.model} stream={a.stream}: {a.status} {a.head}" for a in sent if a.status != 200]
    assert not failed, failed[:10]
    assert all(a.tier == "local" for a in sent if a.tier is not None)


def test_clean_requests_reach_the_cli(proxy, sent, record_path: Path) -> None:
    record_path.unlink(missing_ok=True)
    with httpx.Client(timeout=120) as client:
        for model, stream in COMBINATIONS:
            body = {"model": model, "messages": [{"role": "user", "content": CLEAN[model]}], "stream": stream}
            answer = _send(client, proxy, body, "chat/completions")
            assert answer.status == 200 and answer.group in ("max-genius", "max-opus"), answer
    received = json.dumps(_received(record_path))
    for prompt in CLEAN.values():
        assert received.count(prompt) >= 2, f"a clean request never reached the CLI: {prompt}"


def _redis_text(server: stack.RedisServer) -> str:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == "string":
            parts.append(client.get(key) or "")
        elif kind == "hash":
            parts.append(json.dumps(client.hgetall(key)))
        elif kind == "list":
            parts.append(json.dumps(client.lrange(key, 0, -1)))
        elif kind == "set":
            parts.append(json.dumps(sorted(client.smembers(key))))
        elif kind == "zset":
            parts.append(json.dumps(client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(json.dumps(client.xrange(key)))
        parts.append(key)
    return "\n".join(parts)


def _redis_events(server: stack.RedisServer, timeout: float = 15.0) -> str:
    """Redis's whole content once the tracker's publisher (off the request path) has written its events."""
    client = redis.Redis.from_url(server.url, decode_responses=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        streams = [k for k in client.scan_iter(count=1000) if client.type(k) == "stream"]
        if streams and sum(client.xlen(k) for k in streams) > 0:
            return _redis_text(server)
        time.sleep(0.2)
    raise AssertionError("the tracker's publisher wrote no event to Redis: the store check would see nothing")


def _written_files(home: Path) -> dict[str, str]:
    """Every file the stack wrote under its home (logs, run dirs, spools), except the CLIs' own record."""
    files = {}
    for path in home.rglob("*"):
        if path.is_file() and path.name != "cli-received.jsonl":
            with contextlib.suppress(OSError):
                files[str(path.relative_to(home))] = path.read_text(errors="replace")
    return files


def test_no_secret_in_any_log_or_store(sent, proxy, private_redis, home: Path) -> None:
    events = _redis_events(private_redis)  # first: the append-only file then holds the events too
    written = {**_written_files(home), "redis": events}
    assert any(name.startswith("litellm-") and name.endswith(".log") for name in written), sorted(written)
    assert "cli-proxy.log" in written
    assert any(name.startswith("redis/") and "aof" in name for name in written), sorted(written)
    leaks = []
    for case in corpus.positive_cases():
        for piece in _pieces(case.text):
            leaks += [f"{case.id} in {name}" for name, content in written.items() if piece in content]
    assert not leaks, leaks[:20]
