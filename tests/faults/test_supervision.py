"""Native supervision: a service that exits, cleanly (Redis on SIGTERM exits 0) or not, is restarted within
seconds, and supervisord's log gives `maximus status` the restart count and the last exit reason."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maximus.probes import redis_ping
from maximus.supervisor import Program, SupervisorPaths, history, processes, start, stop
from tests.support.processes import free_port
from tests.support.stack import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.faults]
BACK_WITHIN_S = 10.0


@pytest.fixture()
def supervised_redis(tmp_path: Path) -> Iterator[tuple[SupervisorPaths, RedisServer]]:
    server = RedisServer(free_port(), tmp_path / "redis")
    server.data_dir.mkdir()
    paths = SupervisorPaths(tmp_path / "run")
    start([Program("redis", server.command(), {})], paths, dict(os.environ), tmp_path)
    try:
        _wait(lambda: redis_ping(server.port) and _pid(paths) is not None, BACK_WITHIN_S)
        yield paths, server
    finally:
        stop(paths)


def _pid(paths: SupervisorPaths) -> int | None:
    info = processes(paths).get("redis") or {}
    return info.get("pid") if info.get("statename") == "RUNNING" else None


def _wait(ready, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready():
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"not ready within {timeout}s")


@pytest.mark.parametrize(("sig", "reason"), [(signal.SIGTERM, "exit status 0"), (signal.SIGKILL, "SIGKILL")])
def test_redis_comes_back_after_any_exit(supervised_redis, sig: signal.Signals, reason: str) -> None:
    paths, server = supervised_redis
    first = _pid(paths)
    os.kill(first, sig)
    back_after = _wait(lambda: _pid(paths) not in (None, first) and redis_ping(server.port), BACK_WITHIN_S)
    print(f"redis back {back_after:.1f} s after {sig.name}")
    record = history(paths)["redis"]
    assert record.restarts == 1
    assert reason in record.last_exit
