"""`maximus serve <service>`: the one command that runs a service, natively and in its container."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import uvicorn

from maximus import environment, litellm_config
from maximus.stack import service

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
        exec_litellm(host, port)
    uvicorn.run(
        APP_FACTORIES[name],
        factory=True,
        host=host,
        port=port,
        log_level=os.environ.get("MAXIMUS_LOG_LEVEL", "info").lower(),
        access_log=False,
    )


def _litellm_binary() -> str:
    beside_python = Path(sys.executable).with_name("litellm")
    found = str(beside_python) if beside_python.exists() else shutil.which("litellm")
    if not found:
        raise SystemExit("litellm is not installed: run `make install`")
    return found


def exec_litellm(host: str, port: int) -> None:
    """Render the config and replace this process with the real LiteLLM proxy (one process to supervise)."""
    env = dict(os.environ)
    if not env.get("MAXIMUS_MASTER_KEY"):
        raise SystemExit("MAXIMUS_MASTER_KEY is not set: run `maximus up` once, or set it in .env")
    config = litellm_config.write(env, environment.run_dir() / "litellm" / "config.yaml")
    # The price table ships with the package; without this start-up retries a download.
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # We hand LiteLLM its whole environment; in its default DEV mode it would also read any .env it finds.
    env.setdefault("LITELLM_MODE", "PRODUCTION")
    binary = _litellm_binary()
    argv = [binary, "--config", str(config), "--host", host, "--port", str(port)]
    os.execve(binary, argv, env)
