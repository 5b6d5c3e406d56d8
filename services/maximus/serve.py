"""`maximus serve <service>`: the one command that runs a service, natively and in its container."""

from __future__ import annotations

import os
import sys

import uvicorn

from maximus import environment, litellm_config, litellm_env
from maximus.stack import REPO_ROOT, service

# Python services and their ASGI app factories.
APP_FACTORIES = {
    "tracker": "tracker.app:create_app",
    "cli-proxy": "cli_proxy.app:create_app",
    "vision": "vision.app:create_app",
}
SERVABLE = (*APP_FACTORIES, "litellm")


def default_port(name: str) -> int:
    return service(name).port()


def serve(name: str, host: str, port: int) -> None:
    environment.apply_to_process(environment.stack_environment())
    if name == "litellm":
        serve_gateway(host, port)
    uvicorn.run(
        APP_FACTORIES[name],
        factory=True,
        host=host,
        port=port,
        log_level=os.environ.get("MAXIMUS_LOG_LEVEL", "info").lower(),
        access_log=False,
    )


def serve_gateway(host: str, port: int) -> None:
    """One gateway process, or, asked for several and not yet one of them (a container's main process), a
    supervisord that runs that many on the port and restarts any that dies."""
    spec = service("litellm")
    assert spec.processes is not None
    count = spec.process_count()
    if count == 1 or os.environ.get(spec.processes.slot_env):
        exec_litellm(host, port)
        return
    # Imported here: only the gateway's image installs supervisord; every service's container runs this module.
    from maximus import supervisor

    argv = [sys.executable, "-m", "maximus.cli", "serve", "litellm", "--host", host, "--port", str(port)]
    programs = [
        supervisor.Program(program, argv, {spec.processes.slot_env: str(slot)})
        for slot, program in enumerate(spec.program_names())
    ]
    paths = supervisor.SupervisorPaths(environment.run_dir() / "gateway")
    supervisor.run_foreground(programs, paths, REPO_ROOT)


def exec_litellm(host: str, port: int) -> None:
    """Render the config and replace this process with the LiteLLM proxy behind our edge (maximus.gateway): one
    process to supervise."""
    env = dict(os.environ)
    if not env.get("MAXIMUS_MASTER_KEY"):
        raise SystemExit("MAXIMUS_MASTER_KEY is not set: run `maximus up` once, or set it in .env")
    config = litellm_config.write(env, environment.run_dir() / "litellm" / "config.yaml")
    env = litellm_env.gateway_environment(env)  # rendered first: the config reads REDIS_URL
    # One worker: the edge is installed on the app of this process (see maximus.gateway).
    argv = [sys.executable, "-m", "maximus.gateway", "--config", str(config), "--host", host, "--port", str(port)]
    os.execve(sys.executable, [*argv, "--num_workers", "1"], env)
