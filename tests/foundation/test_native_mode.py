"""`maximus up` / `status` / `down` in native mode, as a new user runs them, against real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from maximus.environment import GENERATED_KEYS, derived_defaults
from maximus.probes import port_open, redis_ping
from maximus.shared_port import listening_ports
from maximus.stack import services
from maximus.supervisor import SupervisorPaths, processes
from maximus.supervisor import _rpc as rpc
from maximus.tiers import service_up
from tests.support import stack
from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.integration
MAXIMUS = [sys.executable, "-m", "maximus.cli"]


@pytest.fixture(scope="module")
def native_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private run directory, .env and ports, with the user's own Redis and Ollama already running."""
    home = tmp_path_factory.mktemp("native")
    with stack.redis_server(home) as redis, stack.ollama_double(home) as ollama:
        stack_vars = {*GENERATED_KEYS, *derived_defaults({}), "MAXIMUS_HOME"}
        env = {k: v for k, v in os.environ.items() if k not in stack_vars}
        env |= {spec.port_env: str(free_port()) for spec in services().values()}
        env |= {
            "MAXIMUS_RUN_DIR": str(home / "run"),
            "MAXIMUS_ENV_FILE": str(home / ".env"),
            "REDIS_PORT": str(redis.port),
            "OLLAMA_PORT": str(ollama.port),
            "VISION_MODEL_DIR": str(home / "no-weights-here"),
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        yield env
        subprocess.run([*MAXIMUS, "down"], env=env, cwd=REPO, check=False, capture_output=True)
        assert redis_ping(redis.port), "the user's Redis must survive `maximus down`"


def maximus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAXIMUS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def started(native_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = maximus(native_env, "up", "--mode", "native")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def alive(pid: int) -> bool:
    """Running, not a zombie (in a container nobody may reap the stopped children)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] not in {"Z", "X"}
    except OSError:
        return False


def key(env: dict[str, str]) -> str:
    return dotenv_values(env["MAXIMUS_ENV_FILE"])["MAXIMUS_MASTER_KEY"]


def test_up_generates_keys_into_a_private_env_file(native_env: dict[str, str], started) -> None:
    path = Path(native_env["MAXIMUS_ENV_FILE"])
    values = dotenv_values(path)
    assert values["MAXIMUS_MASTER_KEY"].startswith("sk-")
    assert {"CLI_PROXY_API_KEY", "TRACKER_API_KEY", "VISION_API_KEY"} <= set(values)
    assert path.stat().st_mode & 0o077 == 0
    assert str(path) in started.stdout
    assert values["MAXIMUS_MASTER_KEY"] not in started.stdout, "the key itself is never printed"


def test_up_prints_tiers_and_mode(started) -> None:
    out = started.stdout
    assert "Tiers" in out and "Mode: Pure Sovereign" in out
    assert "using the redis already listening" in out and "using the ollama already listening" in out
    for tier in ("local", "power", "creative", "vision", "cloud"):
        assert tier in out


def test_gateway_lists_every_model_group(native_env: dict[str, str], started) -> None:
    port = native_env["LITELLM_PORT"]
    response = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key(native_env)}"})
    ids = {m["id"] for m in response.json()["data"]}
    assert {"max-auto", "max-buddy", "max-planner", "max-genius", "max-opus", "max-vision"} <= ids


def test_local_tier_answers_through_the_gateway(native_env: dict[str, str], started) -> None:
    port = native_env["LITELLM_PORT"]
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        timeout=30,
        headers={"Authorization": f"Bearer {key(native_env)}"},
        json={"model": "max-auto", "messages": [{"role": "user", "content": "hello"}]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("Local answer from gemma3")


def test_status_reports_each_tier(native_env: dict[str, str], started) -> None:
    result = maximus(native_env, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {t["name"]: t for t in report["tiers"]}
    assert report["gateway"] is True and report["mode"] == "Pure Sovereign"
    assert by_name["local"]["state"] == "up"
    assert by_name["vision"]["state"] == "degraded" and by_name["vision"]["fix"]
    assert by_name["power"]["state"] == "absent" and by_name["power"]["fix"]
    if (REPO / "cli-proxy" / "node_modules" / ".bin" / "claude").exists():
        assert "no CLI logged in" in by_name["power"]["detail"]
        assert "claude setup-token" in by_name["power"]["fix"], "the real CLI's not-logged-in path gives the fix"
    assert by_name["cloud"]["state"] == "absent"
    assert report["services"]["tracker"] is True and report["services"]["redis"] is True


def test_the_gateway_runs_two_processes_on_its_port_each_listening(native_env: dict[str, str], started) -> None:
    paths = SupervisorPaths(Path(native_env["MAXIMUS_RUN_DIR"]))
    gateways = {name: info for name, info in processes(paths).items() if name.startswith("litellm_")}
    assert sorted(gateways) == ["litellm_0", "litellm_1"]
    port = int(native_env["LITELLM_PORT"])
    assert all(port in listening_ports(info["pid"]) for info in gateways.values())
    status = maximus(native_env, "status").stdout
    for name in gateways:
        assert re.search(rf"{name}\s*│\s*127\.0\.0\.1:{port}\s*│\s*healthy", status), status


def test_up_restarts_a_service_that_was_stopped(native_env: dict[str, str], started) -> None:
    paths = SupervisorPaths(Path(native_env["MAXIMUS_RUN_DIR"]))
    rpc(paths).supervisor.stopProcess("tracker")
    assert not service_up("tracker", native_env)
    again = maximus(native_env, "up", "--mode", "native")
    assert again.returncode == 0, again.stdout
    assert "restarting what had stopped: tracker" in again.stdout
    assert service_up("tracker", native_env)


def test_up_twice_is_harmless(native_env: dict[str, str], started) -> None:
    paths = SupervisorPaths(Path(native_env["MAXIMUS_RUN_DIR"]))
    before = {name: info["pid"] for name, info in processes(paths).items()}
    again = maximus(native_env, "up", "--mode", "native")
    assert again.returncode == 0 and "already running" in again.stdout
    assert {name: info["pid"] for name, info in processes(paths).items()} == before


def test_down_stops_exactly_what_up_started(native_env: dict[str, str], started) -> None:
    paths = SupervisorPaths(Path(native_env["MAXIMUS_RUN_DIR"]))
    pids = [info["pid"] for info in processes(paths).values() if info["pid"]]
    assert len(pids) >= 3
    result = maximus(native_env, "down")
    assert result.returncode == 0, result.stderr
    for pid in pids:
        assert not alive(pid), f"pid {pid} survived `maximus down`"
    assert not port_open(int(native_env["LITELLM_PORT"]))
    assert redis_ping(int(native_env["REDIS_PORT"])), "the Redis that was already running is left alone"
    assert httpx.get(f"http://127.0.0.1:{native_env['OLLAMA_PORT']}/api/version").status_code == 200
    assert "Nothing to stop" in maximus(native_env, "down").stdout


def test_down_after_a_supervisord_crash_stops_the_orphans(native_env: dict[str, str]) -> None:
    assert maximus(native_env, "up", "--mode", "native").returncode == 0
    paths = SupervisorPaths(Path(native_env["MAXIMUS_RUN_DIR"]))
    pids = [info["pid"] for info in processes(paths).values() if info["pid"]]
    os.kill(int(paths.pidfile.read_text()), signal.SIGKILL)
    result = maximus(native_env, "down")
    assert result.returncode == 0 and "Stopped the native stack" in result.stdout
    for pid in pids:
        assert not alive(pid), f"pid {pid} outlived its crashed supervisor"
    assert redis_ping(int(native_env["REDIS_PORT"]))
