"""Native mode: the stack's services as local processes on 127.0.0.1, supervised by supervisord."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from maximus import supervisor
from maximus.probes import port_open
from maximus.shared_port import listening_ports
from maximus.stack import REPO_ROOT, Service, service_of_program, services
from maximus.supervisor import Program, SupervisorPaths
from maximus.tiers import service_up

PROMETHEUS_SOURCE = REPO_ROOT / "prometheus" / "prometheus.yml"


@dataclass
class Plan:
    programs: list[Program] = field(default_factory=list)
    reused: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _executable(name: str) -> str | None:
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def _argv(spec: Service, port: int, run_dir: Path) -> list[str] | None:
    argv = spec.argv(host="127.0.0.1", port=port, run_dir=run_dir, repo=REPO_ROOT)
    executable = _executable(argv[0])
    return [executable, *argv[1:]] if executable else None


def _refuse(plan: Plan, spec: Service, reason: str) -> None:
    (plan.skipped if spec.optional else plan.errors)[spec.name] = reason


def plan_services(env: Mapping[str, str], run_dir: Path) -> Plan:
    plan = Plan()
    for spec in services().values():
        port = spec.port(env)
        if spec.external and service_up(spec.name, env):
            host, at = spec.address(env)
            plan.reused[spec.name] = f"using the {spec.name} already listening on {host}:{at}"
            continue
        if not spec.is_local(env):
            host, at = spec.address(env)
            _refuse(plan, spec, f"{spec.url_env} points at {host}:{at}, which does not answer")
            continue
        argv = _argv(spec, port, run_dir)
        if argv is None:
            _refuse(plan, spec, f"{spec.binary} not found: {spec.install}")
        elif port_open(port):
            _refuse(plan, spec, f"port {port} is taken by another program: stop it or set {spec.port_env}")
        else:
            plan.programs += _programs(spec, argv, port, env)
    return plan


def _programs(spec: Service, argv: list[str], port: int, env: Mapping[str, str]) -> list[Program]:
    environment = {k: v.format(host="127.0.0.1", port=port) for k, v in spec.environment.items()}
    if spec.processes is None:
        return [Program(spec.name, argv, environment)]
    return [
        Program(name, argv, environment | {spec.processes.slot_env: str(slot)})
        for slot, name in enumerate(spec.program_names(env))
    ]


def render_prometheus_config(env: Mapping[str, str], target: Path, source: Path = PROMETHEUS_SOURCE) -> Path:
    """The compose scrape config with service names replaced by 127.0.0.1 and the native ports."""
    config = yaml.safe_load(source.read_text())
    known = services()
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            static["targets"] = [_native_target(t, known, env) for t in static.get("targets", [])]
    config["rule_files"] = [str((source.parent / rule).resolve()) for rule in config.get("rule_files", [])]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _native_target(target: str, known: Mapping[str, Service], env: Mapping[str, str]) -> str:
    host, _, _ = target.partition(":")
    return f"127.0.0.1:{known[host].port(env)}" if host in known else target


def _prepare(plan: Plan, env: Mapping[str, str], run_dir: Path) -> None:
    (run_dir / "data" / "redis").mkdir(parents=True, exist_ok=True)
    (run_dir / "data" / "prometheus").mkdir(parents=True, exist_ok=True)
    if any(p.name == "prometheus" for p in plan.programs):
        if PROMETHEUS_SOURCE.exists():
            render_prometheus_config(env, run_dir / "prometheus" / "prometheus.yml")
        else:
            plan.programs = [p for p in plan.programs if p.name != "prometheus"]
            plan.skipped["prometheus"] = f"{PROMETHEUS_SOURCE} is missing"


def start(env: Mapping[str, str], run_dir: Path) -> Plan:
    paths = SupervisorPaths(run_dir)
    supervisor.stop(paths)  # programs a crashed supervisord left behind would hold the ports
    plan = plan_services(env, run_dir)
    if plan.errors:
        return plan
    _prepare(plan, env, run_dir)
    supervisor.start(plan.programs, paths, env, REPO_ROOT)
    return plan


def program_serves(program: str, env: Mapping[str, str], pid: int | None) -> bool:
    """Whether a program answers: its service's health, and for one of several processes on a port, that this
    process listens there itself (the health check may have reached another)."""
    spec = services()[service_of_program(program)]
    if not service_up(spec.name, env):
        return False
    return spec.processes is None or (pid is not None and spec.port(env) in listening_ports(pid))


def wait_healthy(names: list[str], env: Mapping[str, str], run_dir: Path) -> dict[str, str]:
    """Wait for each started program to answer; return the ones that did not, with the reason."""
    known = services()
    deadline = {name: time.monotonic() + known[service_of_program(name)].start_timeout for name in names}
    pending, failed = set(names), {}
    paths = SupervisorPaths(run_dir)
    while pending:
        programs = supervisor.processes(paths)
        states = {name: info["statename"] for name, info in programs.items()}
        for name in sorted(pending):
            if program_serves(name, env, programs.get(name, {}).get("pid")):
                pending.discard(name)
            elif states.get(name) in {"FATAL", "EXITED", "STOPPED"} or time.monotonic() > deadline[name]:
                failed[name] = f"not healthy ({states.get(name, 'unknown')}): see {paths.logs / name}.log"
                pending.discard(name)
        if pending:
            time.sleep(0.25)
    return failed


def stop(run_dir: Path) -> list[str]:
    return supervisor.stop(SupervisorPaths(run_dir))


def restart_stopped(run_dir: Path) -> list[str]:
    return supervisor.start_stopped(SupervisorPaths(run_dir))


def record(run_dir: Path) -> None:
    supervisor.record_programs(SupervisorPaths(run_dir))


def running(run_dir: Path) -> bool:
    return supervisor.is_running(SupervisorPaths(run_dir))


def program_info(run_dir: Path) -> dict[str, dict]:
    return supervisor.processes(SupervisorPaths(run_dir))


def program_history(run_dir: Path) -> dict[str, supervisor.ProgramHistory]:
    return supervisor.history(SupervisorPaths(run_dir))
