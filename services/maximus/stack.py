"""The stack's services as described by stack.yaml, with ports resolved from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

STACK_FILE = Path(__file__).with_name("stack.yaml")
# The checkout (native mode) or the image's copy of it (MAXIMUS_HOME in the Dockerfiles): where litellm/,
# prometheus/ and the compose files are read from.
REPO_ROOT = Path(os.environ.get("MAXIMUS_HOME") or Path(__file__).resolve().parents[2])


class ConfigError(ValueError):
    """A setting the user gave is unusable; the message says which and what is expected."""


@dataclass(frozen=True)
class Processes:
    """How many processes serve one port (the gateway): `env` sets the count, `slot_env` tells each its number."""

    env: str
    default: int
    slot_env: str
    most: int = 16

    def count(self, env: Mapping[str, str]) -> int:
        value = env.get(self.env, "")
        if not value:
            return self.default
        if not value.isdigit() or not 1 <= int(value) <= self.most:
            raise ConfigError(f"{self.env}={value!r} is not a process count (1-{self.most})")
        return int(value)


@dataclass(frozen=True)
class Service:
    name: str
    port_env: str
    default_port: int
    health: Mapping[str, Any]
    command: tuple[str, ...]
    binary: str | None = None
    install: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    external: bool = False
    url_env: str | None = None
    optional: bool = True
    start_timeout: float = 30.0
    processes: Processes | None = None

    def process_count(self, env: Mapping[str, str] | None = None) -> int:
        return self.processes.count(os.environ if env is None else env) if self.processes else 1

    def program_names(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Its supervisord programs: the service's name, or name_<slot> for each of several processes."""
        count = self.process_count(env)
        return [self.name] if self.processes is None else [f"{self.name}_{slot}" for slot in range(count)]

    def port(self, env: Mapping[str, str] | None = None) -> int:
        env = os.environ if env is None else env
        value = env.get(self.port_env, "")
        if not value:
            return self.default_port
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"{self.port_env}={value!r} is not a port number (1-65535)")
        return int(value)

    def address(self, env: Mapping[str, str] | None = None) -> tuple[str, int]:
        """Where the service answers: its url_env when the user set one (an external service), else the port."""
        env = os.environ if env is None else env
        url = env.get(self.url_env, "") if self.url_env else ""
        parsed = urlparse(url) if url else None
        if parsed and parsed.hostname:
            return parsed.hostname, parsed.port or self.default_port
        return "127.0.0.1", self.port(env)

    def is_local(self, env: Mapping[str, str] | None = None) -> bool:
        """Whether native mode may start it: its address is this machine's port for it."""
        host, port = self.address(env)
        return host in {"127.0.0.1", "localhost", "::1"} and port == self.port(env)

    def argv(self, **values: Any) -> list[str]:
        return [part.format(**values) for part in self.command]


def _service(name: str, spec: Mapping[str, Any]) -> Service:
    return Service(
        name=name,
        port_env=spec["port"]["env"],
        default_port=int(spec["port"]["default"]),
        health=spec["health"],
        command=tuple(spec["command"]),
        binary=spec.get("binary"),
        install=spec.get("install", ""),
        environment=spec.get("environment", {}),
        external=bool(spec.get("external", False)),
        url_env=spec.get("url_env"),
        optional=bool(spec.get("optional", True)),
        start_timeout=float(spec.get("start_timeout", 30)),
        processes=Processes(**spec["processes"]) if spec.get("processes") else None,
    )


@cache
def services() -> dict[str, Service]:
    spec = yaml.safe_load(STACK_FILE.read_text())
    return {name: _service(name, body) for name, body in spec["services"].items()}


def service(name: str) -> Service:
    return services()[name]


def service_of_program(program: str) -> str:
    """The service a supervisord program runs: its name, less the _<slot> of a service with several processes."""
    name, _, slot = program.rpartition("_")
    several = name in services() and services()[name].processes is not None
    return name if slot.isdigit() and several else program


def local_url(name: str, env: Mapping[str, str] | None = None) -> str:
    return f"http://127.0.0.1:{service(name).port(env)}"
