"""Compose mode: the same stack in containers, where a Docker engine and the Compose v2 plugin answer."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from maximus.stack import REPO_ROOT, services

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
GPU_OVERRIDE = REPO_ROOT / "compose.gpu.yaml"
# The uid the cli-proxy image is built for when nobody says otherwise: the usual first user, never root.
DEFAULT_UID = 1000
PLUGIN_MISSING = (
    "the Docker engine answers but the Compose v2 plugin does not (`docker compose version` fails): "
    "install it (Debian/Ubuntu: apt-get install docker-compose-plugin; see "
    "https://docs.docker.com/compose/install/linux/) or run `maximus up --mode native`"
)

Say = Callable[[str], None]


def _docker(*args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )


def _answers(*args: str) -> bool:
    try:
        return _docker(*args).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def engine_available() -> bool:
    return bool(shutil.which("docker")) and _answers("info", "--format", "{{.ServerVersion}}")


def plugin_available() -> bool:
    """A Docker CLI without the v2 plugin fails here (and on `--project-directory`, "unknown flag")."""
    return _answers("compose", "version")


def unavailable_reason() -> str | None:
    """Why compose mode cannot run on this machine, or None when it can."""
    if not shutil.which("docker"):
        return "no docker command"
    if not engine_available():
        return "no Docker engine answers `docker info`"
    if not plugin_available():
        return PLUGIN_MISSING
    return None


def nvidia_runtime() -> bool:
    """The GPU override is used only where the engine has the NVIDIA runtime."""
    result = _docker("info", "--format", "{{json .Runtimes}}")
    return result.returncode == 0 and "nvidia" in result.stdout


def compose_files() -> list[str]:
    """COMPOSE_FILE (Compose's own variable, e.g. compose.yaml:compose.test.yaml) when set, else ours."""
    chosen = [f for f in os.environ.get("COMPOSE_FILE", "").split(os.pathsep) if f]
    if not chosen:
        chosen = [str(COMPOSE_FILE)]
        if GPU_OVERRIDE.exists() and nvidia_runtime():
            chosen.append(str(GPU_OVERRIDE))
    return [arg for name in chosen for arg in ("-f", str(REPO_ROOT / name))]


def base_command(env_file: Path) -> list[str]:
    return ["docker", "compose", "--project-directory", str(REPO_ROOT), "--env-file", str(env_file), *compose_files()]


def _setting(name: str, env_file: Path) -> str | None:
    if os.environ.get(name):
        return os.environ[name]
    values = dotenv_values(env_file) if env_file.exists() else {}
    return values.get(name) or None


def build_env(env_file: Path) -> dict[str, str]:
    """The cli-proxy image runs as the user who owns the CLI logins; as root, as the usual first user (1000).

    A value in the environment or the .env file wins; otherwise root and `docker compose build` agree on 1000.
    """
    env = dict(os.environ)
    for name, own in (("MAXIMUS_UID", os.getuid()), ("MAXIMUS_GID", os.getgid())):
        env[name] = _setting(name, env_file) or str(DEFAULT_UID if own == 0 else own)
    return env


def resolved_config(base: list[str], env: Mapping[str, str]) -> tuple[dict[str, Any] | None, str]:
    result = subprocess.run(
        [*base, "config", "--format", "json"], capture_output=True, text=True, env=dict(env), check=False
    )
    if result.returncode != 0:
        return None, result.stderr.strip()
    return json.loads(result.stdout), ""


def prepare_bind_mounts(config: Mapping[str, Any], uid: int, gid: int) -> list[Path]:
    """Create the missing host folders of bind mounts, owned by the stack's user (dockerd would make them root's)."""
    created: list[Path] = []
    for svc in config.get("services", {}).values():
        for volume in svc.get("volumes") or []:
            if volume.get("type") != "bind" or not volume.get("source"):
                continue
            missing = [p for p in (Path(volume["source"]), *Path(volume["source"]).parents) if not p.exists()]
            for path in reversed(missing):
                path.mkdir()
                if os.geteuid() == 0:
                    os.chown(path, uid, gid)
                created.append(path)
    return created


@dataclass
class Plan:
    """What `up` starts: long-running services, one-shot jobs, and what is left out with the reason."""

    long_running: list[str] = field(default_factory=list)
    one_shot: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


def _image_present(image: str) -> bool:
    return _answers("image", "inspect", image)


def missing_images(config: Mapping[str, Any], base: list[str], env: Mapping[str, str]) -> dict[str, str]:
    """Services whose image is neither here nor pullable (services with a build section are built)."""
    wanted = {
        name: svc["image"]
        for name, svc in config.get("services", {}).items()
        if svc.get("image") and not svc.get("build") and not _image_present(svc["image"])
    }
    if wanted:
        pull = [*base, "pull", "--quiet", "--ignore-pull-failures", *wanted]
        with contextlib.suppress(subprocess.TimeoutExpired):  # what did arrive is used; the rest is left out
            subprocess.run(pull, capture_output=True, text=True, env=dict(env), check=False, timeout=1800)
    return {name: image for name, image in wanted.items() if not _image_present(image)}


def _needs(svc: Mapping[str, Any]) -> set[str]:
    """The services this one cannot start without (a `required: false` dependency may be absent)."""
    return {name for name, rule in (svc.get("depends_on") or {}).items() if (rule or {}).get("required", True)}


def _dependants(config: Mapping[str, Any], names: Iterable[str]) -> set[str]:
    out = set(names)
    grew = True
    while grew:
        grew = False
        for name, svc in config.get("services", {}).items():
            if name not in out and _needs(svc) & out:
                out.add(name)
                grew = True
    return out


def plan(config: Mapping[str, Any], missing: Mapping[str, str]) -> Plan:
    result = Plan()
    blocked = _dependants(config, missing)
    for name in sorted(blocked):
        result.left_out[name] = (
            f"image {missing[name]} cannot be pulled or found (`docker compose pull {name}`)"
            if name in missing
            else f"needs {', '.join(sorted(_needs(config['services'][name]) & blocked))}"
        )
    for name, svc in config.get("services", {}).items():
        if name in blocked:
            continue
        # One-shot jobs (restart "no") would count as failed for `up --wait`: started after it.
        (result.one_shot if str(svc.get("restart", "")) == "no" else result.long_running).append(name)
    return result


def required_services() -> set[str]:
    return {name for name, spec in services().items() if not spec.optional}


def up(env_file: Path, say: Say = print) -> int:
    base = base_command(env_file)
    env = build_env(env_file)
    config, error = resolved_config(base, env)
    if config is None:
        say(f"The compose files are not usable: {error}")
        return 1
    prepare_bind_mounts(config, int(env["MAXIMUS_UID"]), int(env["MAXIMUS_GID"]))
    chosen = plan(config, missing_images(config, base, env))
    for name, reason in chosen.left_out.items():
        say(f"  {name}: not started: {reason}")
    lost = sorted(required_services() & set(chosen.left_out))
    if lost:
        say(f"Cannot start the stack without {', '.join(lost)}: make the images above available.")
        return 1
    # Compose would start (and pull) every dependency, absent ones included: with services left out, only ours.
    no_deps = ["--no-deps"] if chosen.left_out else []
    code = subprocess.run(
        [*base, "up", "--detach", "--build", "--wait", *no_deps, *chosen.long_running], check=False, env=env
    ).returncode
    if code != 0:
        say("Some services did not become healthy: `maximus status` says which; the one-shot jobs were not started.")
    elif chosen.one_shot:
        # The model pull can take many minutes: it runs on in the background, its dependencies now healthy.
        subprocess.run([*base, "up", "--detach", "--no-deps", *chosen.one_shot], check=False, env=env)
    return code


def down(env_file: Path) -> int:
    return subprocess.run([*base_command(env_file), "down"], check=False, env=build_env(env_file)).returncode


def service_health(env_file: Path) -> dict[str, str]:
    result = subprocess.run(
        [*base_command(env_file), "ps", "--all", "--format", "json"], capture_output=True, text=True, check=False
    )
    states = {}
    for line in result.stdout.splitlines():
        if line.strip():
            entry = json.loads(line)
            states[entry["Service"]] = entry.get("Health") or entry.get("State", "")
    return states


def tier_report(env_file: Path) -> dict | None:
    """`maximus status --json` run inside the gateway container, which reaches every service by name."""
    result = subprocess.run(
        [*base_command(env_file), "exec", "-T", "litellm", "maximus", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
