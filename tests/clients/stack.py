"""One gateway for every real-client test, and what each test reads back from it.

The stack is the team stack (tests/team/stack.py) with one gateway: Redis, the tracker, the Ollama double as the
local tier and an OpenAI double as the power tier, so that "the request stayed local" is a routing decision and not
the only tier that answers. A client test takes a `Mark` before the client runs, then asks:

- which requests the client made: the gateway's own access log (uvicorn's `"POST /v1/messages HTTP/1.1" 200`
  lines) since the mark, so a CLI whose HTTP traffic the test cannot see is counted too;
- what the tracker counted per tier since the mark (its /stats, once the event stream is consumed);
- which model of the Ollama double answered (its request log since the mark).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.stack import closed_port_url
from tests.team.stack import Team

# Requests that ask a model for an answer: the tracker counts each one once. GET /v1/models and
# /v1/messages/count_tokens are answered without a model and are not counted.
MODEL_PATHS = frozenset({"/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/embeddings", "/v1/completions"})
_ACCESS_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD|OPTIONS) (/[^ ?"]*)[^"]*" (\d{3})')
# LiteLLM's own words: its name, its docs, its exception class names. None may reach a client.
LITELLM_TEXT = re.compile(r"litellm|BadRequestError|APIConnectionError|Ollama_chatException|docs\.litellm", re.I)
CLIENT_TIMEOUT_S = 120  # every client call is bounded: a hang fails the test instead of holding the suite


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class Mark:
    log_offset: int
    tiers: dict[str, int]
    failures: int
    double_seen: int


@dataclass
class ClientStack:
    team: Team
    home: Path
    tools_models: frozenset[str] = field(default_factory=frozenset)

    @property
    def gateway(self):  # the one gateway process
        return self.team.gateways[0]

    @property
    def base_url(self) -> str:
        return self.gateway.base_url

    @property
    def openai_base_url(self) -> str:
        return self.gateway.openai_base_url

    @property
    def key(self) -> str:
        return self.gateway.master_key

    def mark(self) -> Mark:
        self.team.wait_consumed()
        stats = self.team.tracker.stats()
        tiers = {tier: figures["requests"] for tier, figures in stats["tiers"].items()}
        return Mark(len(self._log_bytes()), tiers, stats["failures"], len(self.team.ollama.requests()))

    def requests_since(self, mark: Mark) -> list[Request]:
        text = self._log_bytes()[mark.log_offset :].decode(errors="replace")
        return [Request(m[1], m[2], int(m[3])) for m in _ACCESS_LINE.finditer(text)]

    def model_requests_since(self, mark: Mark) -> list[Request]:
        return [r for r in self.requests_since(mark) if r.path in MODEL_PATHS]

    def counted_since(self, mark: Mark) -> tuple[dict[str, int], int]:
        """Requests the tracker counted per tier since `mark` (tiers with none left out), and failures."""
        self.team.wait_consumed()
        stats = self.team.tracker.stats()
        tiers = {t: f["requests"] - mark.tiers.get(t, 0) for t, f in stats["tiers"].items()}
        return {t: n for t, n in tiers.items() if n}, stats["failures"] - mark.failures

    def assert_counted(self, mark: Mark, tier: str = "local") -> list[Request]:
        """Every model request the client made answered 200, and the tracker counted exactly those, in `tier`."""
        made = self.model_requests_since(mark)
        assert made, f"the client made no model request (gateway saw {self.requests_since(mark)})"
        assert all(r.status == 200 for r in made), f"the gateway answered {made}"
        tiers, failures = self.counted_since(mark)
        assert (tiers, failures) == ({tier: len(made)}, 0), (
            f"the client made {len(made)} model requests ({Counter(r.path for r in made)}); "
            f"the tracker counted {tiers} and {failures} failures"
        )
        return made

    def chats_since(self, mark: Mark) -> list[dict[str, Any]]:
        """The /api/chat bodies the Ollama double received since `mark`."""
        seen = self.team.ollama.requests()[mark.double_seen :]
        return [json.loads(r["body"]) for r in seen if r["path"] == "/api/chat"]

    def embeds_since(self, mark: Mark) -> list[dict[str, Any]]:
        seen = self.team.ollama.requests()[mark.double_seen :]
        return [json.loads(r["body"]) for r in seen if r["path"] in ("/api/embed", "/api/embeddings")]

    def assert_tools_went_to_a_tools_model(self, mark: Mark) -> list[dict[str, Any]]:
        """A request with tools reached only local models whose Ollama capabilities include tools: no attempt on
        a model that refuses them (a fallback that happens to work is not the routing the issue asks for)."""
        with_tools = [c for c in self.chats_since(mark) if c.get("tools")]
        assert with_tools, "no request with tools reached the local tier"
        models = [c["model"] for c in with_tools]
        assert set(models) <= self.tools_models, f"tools went to {models}; tools-capable: {sorted(self.tools_models)}"
        return with_tools

    def _log_bytes(self) -> bytes:
        path = self.gateway.log_path
        return path.read_bytes() if path else b""


def tools_capable_models(ollama_base_url: str) -> frozenset[str]:
    """The double's pulled models whose /api/show capabilities include `tools` (read, not hard-coded)."""
    names = [m["name"] for m in httpx.get(f"{ollama_base_url}/api/tags", timeout=10).json()["models"]]
    shown = {n: httpx.post(f"{ollama_base_url}/api/show", json={"model": n}, timeout=10).json() for n in names}
    return frozenset(n.split(":")[0] for n, s in shown.items() if "tools" in s.get("capabilities", []))


def assert_no_litellm_text(*texts: str) -> None:
    for text in texts:
        found = LITELLM_TEXT.search(text or "")
        assert found is None, f"LiteLLM text {found.group(0)!r} reached the client: {text[:600]}"


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment a CLI client runs in: a throwaway HOME, none of the developer's keys, and every proxy
    variable aimed at a closed loopback port (only the gateway on 127.0.0.1 is exempt), so that a telemetry or
    update call fails at once on this machine instead of leaving it."""
    closed = closed_port_url()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home / "tmp"),
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "ALL_PROXY": closed,
        "https_proxy": closed,
        "http_proxy": closed,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {**env, **extra}


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli(cmd: list[str], *, env: dict[str, str], cwd: Path, stdin: str, timeout: float = CLIENT_TIMEOUT_S) -> Ran:
    """Run a client CLI in its own process group with the prompt on stdin; past `timeout` the whole group is
    killed (an npm CLI is a node wrapper around further processes: killing the wrapper alone leaves them)."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise AssertionError(
            f"{Path(cmd[0]).name} did not finish within {timeout}s\n{out[-2000:]}\n{err[-2000:]}"
        ) from None
    _kill_group(proc.pid)  # whatever it left running in the background
    return Ran(proc.returncode, out, err)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
