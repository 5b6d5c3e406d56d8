"""Native mode's process supervision, delegated to supervisord (one daemon per `maximus up`).

supervisord starts each program in its own process group, restarts one that dies, and on shutdown stops
every program it started and nothing else: that is how `maximus down` stops exactly what `maximus up` did.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport


@dataclass(frozen=True)
class Program:
    name: str
    argv: Sequence[str]
    environment: Mapping[str, str]


@dataclass(frozen=True)
class SupervisorPaths:
    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"


def _quote(value: str) -> str:
    # supervisord expands %(name)s in its config: a literal percent must be doubled.
    return shlex.quote(value).replace("%", "%%")


def _program_section(program: Program, paths: SupervisorPaths) -> str:
    lines = [
        f"[program:{program.name}]",
        f"command={' '.join(_quote(part) for part in program.argv)}",
        f"stdout_logfile={paths.logs / program.name}.log",
        "redirect_stderr=true",
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=3",
        "autorestart=unexpected",
        "startsecs=2",
        "startretries=3",
        "stopasgroup=true",
        "killasgroup=true",
        "stopwaitsecs=15",
    ]
    if program.environment:
        pairs = ",".join(f'{key}="{value.replace("%", "%%")}"' for key, value in program.environment.items())
        lines.append(f"environment={pairs}")
    return "\n".join(lines)


def render_config(programs: Sequence[Program], paths: SupervisorPaths, workdir: Path) -> str:
    header = f"""[unix_http_server]
file={paths.socket}
chmod=0700

[supervisord]
pidfile={paths.pidfile}
logfile={paths.logs / "supervisord.log"}
childlogdir={paths.logs}
directory={workdir}
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{paths.socket}
"""
    return header + "\n" + "\n\n".join(_program_section(p, paths) for p in programs) + "\n"


def _pid(paths: SupervisorPaths) -> int | None:
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def is_running(paths: SupervisorPaths) -> bool:
    return _pid(paths) is not None


def _rpc(paths: SupervisorPaths) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, f"unix://{paths.socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def start(programs: Sequence[Program], paths: SupervisorPaths, env: Mapping[str, str], workdir: Path) -> None:
    """Write the config and start the supervisord daemon; its children inherit `env` (secrets stay off argv)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(render_config(programs, paths, workdir))
    paths.config.chmod(0o600)
    daemon = [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.config)]
    subprocess.run(daemon, env=dict(env), check=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not paths.socket.exists():
        time.sleep(0.05)


def processes(paths: SupervisorPaths) -> dict[str, dict]:
    """Program name -> supervisord's process info (statename, pid, ...); empty when the daemon is not running."""
    if not is_running(paths):
        return {}
    try:
        return {info["name"]: info for info in _rpc(paths).supervisor.getAllProcessInfo()}
    except (OSError, xmlrpc.client.Fault):
        return {}


def states(paths: SupervisorPaths) -> dict[str, str]:
    """Program name -> supervisord state (RUNNING, STARTING, BACKOFF, FATAL, EXITED, ...)."""
    return {name: info["statename"] for name, info in processes(paths).items()}


def stop(paths: SupervisorPaths, timeout: float = 60.0) -> bool:
    """Stop every program and the daemon; True if something was running."""
    pid = _pid(paths)
    if pid is None:
        return False
    try:
        _rpc(paths).supervisor.shutdown()
    except (OSError, xmlrpc.client.Fault):
        os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid(paths) is not None:
        time.sleep(0.1)
    if _pid(paths) is not None:
        raise RuntimeError(f"supervisord (pid {pid}) did not stop within {timeout:.0f}s")
    return True
