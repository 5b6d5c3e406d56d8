"""Native mode's process supervision, delegated to supervisord (one daemon per `maximus up`).

supervisord starts each program in its own process group, restarts one that dies, and on shutdown stops
every program it started and nothing else: that is how `maximus down` stops exactly what `maximus up` did.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
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

    @property
    def programs(self) -> Path:
        return self.run_dir / "programs.json"


def _quote(value: str) -> str:
    # supervisord expands %(name)s in its config: a literal percent must be doubled.
    return shlex.quote(value).replace("%", "%%")


def _log_lines(program: Program, paths: SupervisorPaths, foreground: bool) -> list[str]:
    if foreground:  # in a container: the programs' output is the container's log
        return ["stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0", "redirect_stderr=true"]
    return [
        f"stdout_logfile={paths.logs / program.name}.log",
        "redirect_stderr=true",
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=3",
    ]


def _program_section(program: Program, paths: SupervisorPaths, foreground: bool = False) -> str:
    lines = [
        f"[program:{program.name}]",
        f"command={' '.join(_quote(part) for part in program.argv)}",
        *_log_lines(program, paths, foreground),
        # Restarted after any exit, clean or not (a Redis stopped by SIGTERM exits 0 and must come back too). A
        # program that ran startsecs is restarted at once; one that dies sooner is retried with supervisord's
        # back-off (1 s, 2 s, ... longer each time) startretries times, then FATAL until `maximus up`.
        "autorestart=true",
        "startsecs=2",
        "startretries=10",
        "stopasgroup=true",
        "killasgroup=true",
        "stopwaitsecs=15",
    ]
    if program.environment:
        pairs = ",".join(f'{key}="{value.replace("%", "%%")}"' for key, value in program.environment.items())
        lines.append(f"environment={pairs}")
    return "\n".join(lines)


def render_config(programs: Sequence[Program], paths: SupervisorPaths, workdir: Path, foreground: bool = False) -> str:
    header = f"""[unix_http_server]
file={paths.socket}
chmod=0700

[supervisord]
pidfile={paths.pidfile}
logfile={paths.logs / "supervisord.log"}
childlogdir={paths.logs}
directory={workdir}
loglevel=info
nodaemon={"true" if foreground else "false"}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{paths.socket}
"""
    return header + "\n" + "\n\n".join(_program_section(p, paths, foreground) for p in programs) + "\n"


def run_foreground(programs: Sequence[Program], paths: SupervisorPaths, workdir: Path) -> None:
    """Replace this process with a supervisord in the foreground (a container's main process) running `programs`;
    the environment passes to them as it is."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(render_config(programs, paths, workdir, foreground=True))
    paths.config.chmod(0o600)
    argv = [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.config)]
    os.execv(sys.executable, argv)


def _pidfile_pid(paths: SupervisorPaths) -> int | None:
    try:
        return int(paths.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _rpc(paths: SupervisorPaths) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, f"unix://{paths.socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def _daemon_pid(paths: SupervisorPaths) -> int | None:
    """The pid of our supervisord, verified over its socket: a pidfile alone may name a reused pid."""
    pid = _pidfile_pid(paths)
    if pid is None or not paths.socket.exists():
        return None
    try:
        answered = _rpc(paths).supervisor.getPID()
    except (OSError, xmlrpc.client.Error):
        return None
    return pid if answered == pid else None


def is_running(paths: SupervisorPaths) -> bool:
    return _daemon_pid(paths) is not None


def start(programs: Sequence[Program], paths: SupervisorPaths, env: Mapping[str, str], workdir: Path) -> None:
    """Write the config and start the supervisord daemon; its children inherit `env` (secrets stay off argv)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.pidfile.unlink(missing_ok=True)
    paths.config.write_text(render_config(programs, paths, workdir))
    paths.config.chmod(0o600)
    daemon = [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.config)]
    subprocess.run(daemon, env=dict(env), check=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not is_running(paths):
        time.sleep(0.05)


def processes(paths: SupervisorPaths) -> dict[str, dict]:
    """Program name -> supervisord's process info (statename, pid, ...); empty when the daemon is not running."""
    if not is_running(paths):
        return {}
    try:
        return {info["name"]: info for info in _rpc(paths).supervisor.getAllProcessInfo()}
    except (OSError, xmlrpc.client.Error):
        return {}


def states(paths: SupervisorPaths) -> dict[str, str]:
    """Program name -> supervisord state (RUNNING, STARTING, BACKOFF, FATAL, EXITED, ...)."""
    return {name: info["statename"] for name, info in processes(paths).items()}


@dataclass(frozen=True)
class ProgramHistory:
    restarts: int  # starts after the first one
    last_exit: str | None  # supervisord's words: "exit status 0; expected", "terminated by SIGKILL; not expected"


_SPAWNED = re.compile(r"spawned: '([^']+)' with pid \d+")
_EXITED = re.compile(r"(?:exited|stopped): (\S+) \((.+)\)\s*$")
_GAVE_UP = re.compile(r"gave up: (\S+) entered FATAL state, (.+)$")


def history(paths: SupervisorPaths) -> dict[str, ProgramHistory]:
    """Restarts and the last exit reason of each program, from supervisord's own log of this `up`."""
    try:
        lines = (paths.logs / "supervisord.log").read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return {}
    spawns: dict[str, int] = {}
    exits: dict[str, str] = {}
    for line in lines:
        if "supervisord started with pid" in line:  # an earlier `up`: count this one only
            spawns, exits = {}, {}
        elif match := _SPAWNED.search(line):
            spawns[match[1]] = spawns.get(match[1], 0) + 1
        elif match := _EXITED.search(line):
            exits[match[1]] = match[2]
        elif match := _GAVE_UP.search(line):
            exits[match[1]] = f"gave up: {match[2]}"
    return {name: ProgramHistory(max(0, count - 1), exits.get(name)) for name, count in spawns.items()}


def start_stopped(paths: SupervisorPaths) -> list[str]:
    """Start every program that is not running (stopped by hand, or given up after failing); return their names."""
    restarted = []
    for name, state in states(paths).items():
        if state not in {"RUNNING", "STARTING"}:
            try:
                _rpc(paths).supervisor.startProcess(name, False)
            except xmlrpc.client.Fault:
                continue
            restarted.append(name)
    return restarted


def _cmdline(pid: int) -> str | None:
    """The command line of a live process; None when it is gone or a zombie nobody reaped yet."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        if state in {"Z", "X"}:
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, IndexError):
        return None


def record_programs(paths: SupervisorPaths) -> None:
    """Remember each program's pid and command line, so that `down` can still stop them if supervisord died."""
    records = {
        name: {"pid": info["pid"], "cmdline": _cmdline(info["pid"])}
        for name, info in processes(paths).items()
        if info.get("pid")
    }
    paths.programs.write_text(json.dumps(records))


def _stop_orphans(paths: SupervisorPaths, grace: float = 10.0) -> list[str]:
    """Programs left running by a supervisord that died: their process groups, if the pid is still theirs."""
    try:
        records = json.loads(paths.programs.read_text())
    except (FileNotFoundError, ValueError):
        return []
    alive = {name: r["pid"] for name, r in records.items() if r.get("cmdline") and _cmdline(r["pid"]) == r["cmdline"]}
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_cmdline(pid) for pid in alive.values()):
        time.sleep(0.1)
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return sorted(alive)


def stop(paths: SupervisorPaths, timeout: float = 60.0) -> list[str]:
    """Stop every program `start` started and the daemon; return what was stopped (empty: nothing ran)."""
    stopped: list[str] = []
    pid = _daemon_pid(paths)
    if pid is not None:
        stopped = sorted(processes(paths))
        with contextlib.suppress(OSError, xmlrpc.client.Error):
            _rpc(paths).supervisor.shutdown()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _cmdline(pid) is not None:
            time.sleep(0.1)
        if _cmdline(pid) is not None:
            raise RuntimeError(f"supervisord (pid {pid}) did not stop within {timeout:.0f}s")
    else:
        stopped = _stop_orphans(paths)
    paths.programs.unlink(missing_ok=True)
    paths.pidfile.unlink(missing_ok=True)
    return stopped
