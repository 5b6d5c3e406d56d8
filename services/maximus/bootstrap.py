"""Install the system packages the stack needs before anything slow, or say in one line how to.

`make install` (so `make up` and `make test`) and .ci/run run this file with the system Python before the venv
exists: standard library only. The needs are in system_packages.toml. With apt-get (Debian, Ubuntu) as root or
with password-less sudo, or with Homebrew, the missing packages are installed without asking; otherwise one line
names the exact command to run. Nothing is done when nothing is missing, so a second run installs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGES_FILE = Path(__file__).with_name("system_packages.toml")
# The first package manager found on PATH is used: apt-get on Debian/Ubuntu, brew on macOS (or Linuxbrew).
MANAGERS = ("apt-get", "brew")
# `MAXIMUS_SYSTEM_PACKAGES=skip make ...` goes on without what is missing (e.g. no Prometheus and no sudo).
SKIP_VARIABLE = "MAXIMUS_SYSTEM_PACKAGES"
# The project's pinned wheels exist for CPython 3.11 and 3.12 (pyproject.toml's requires-python).
SUPPORTED_PYTHON = ((3, 11), (3, 13))


@dataclass(frozen=True)
class Need:
    """A command on PATH, or a module of the Python that builds the venv, and the packages that provide it."""

    command: str | None
    module: str | None
    packages: dict[str, tuple[str, ...]]

    @property
    def label(self) -> str:
        return self.command or f"Python's {self.module}"

    def met(self) -> bool:
        if self.command:
            return shutil.which(self.command) is not None
        return importlib.util.find_spec(self.module or "") is not None


def load_needs(path: Path = PACKAGES_FILE) -> list[Need]:
    import tomllib  # only after the version check: Python 3.11 and later

    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    with path.open("rb") as handle:
        entries = tomllib.load(handle)["need"]
    return [
        Need(
            command=entry.get("command"),
            module=entry.get("module"),
            packages={m: tuple(p.format(python=python) for p in entry.get(m, [])) for m in MANAGERS},
        )
        for entry in entries
    ]


def package_manager() -> str | None:
    return next((name for name in MANAGERS if shutil.which(name)), None)


def is_root() -> bool:
    return os.geteuid() == 0


def privilege_prefix(manager: str) -> list[str] | None:
    """What to put before `manager` to install without a password prompt; None when that is not possible."""
    if manager == "brew" or is_root():  # Homebrew installs as the user (it refuses to run as root)
        return []
    if not shutil.which("sudo"):
        return None
    asks = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode != 0
    return None if asks else ["sudo", "-n"]


def install_commands(manager: str, packages: list[str], prefix: list[str]) -> list[list[str]]:
    if manager == "brew":
        return [[*prefix, "brew", "install", *packages]]
    # `env` carries the variable through sudo, which resets the environment.
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    return [[*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", "--no-install-recommends", *packages]]


def manual_command(manager: str, packages: list[str]) -> str:
    """The command a user with a password runs instead."""
    if manager == "brew":
        return shlex.join(["brew", "install", *packages])
    install = shlex.join(["sudo", "apt-get", "install", "-y", "--no-install-recommends", *packages])
    return f"sudo apt-get update && {install}"


def _stop(missing: list[Need], how: str) -> int:
    names = ", ".join(need.label for need in missing)
    print(
        f"maximus: missing {names}: {how}, then run make again (or set {SKIP_VARIABLE}=skip to go on without them)",
        file=sys.stderr,
    )
    return 1


def _no_manager_advice() -> str:
    if sys.platform == "darwin":
        return "install Homebrew (https://brew.sh)"
    return "install them with your system's package manager (no apt-get or brew here)"


def install(missing: list[Need]) -> int:
    """Install what is missing, or print the one line that says how; 0 when everything is there afterwards."""
    manager = package_manager()
    if manager is None:
        return _stop(missing, _no_manager_advice())
    uncovered = [need for need in missing if not need.packages[manager]]
    if uncovered:
        return _stop(uncovered, f"no {manager} package is listed for them: install them yourself")
    packages = list(dict.fromkeys(p for need in missing for p in need.packages[manager]))
    prefix = privilege_prefix(manager)
    if prefix is None:
        return _stop(missing, f"run `{manual_command(manager, packages)}`")
    print(f"maximus: installing {' '.join(packages)} with {manager} (missing: {', '.join(n.label for n in missing)})")
    for command in install_commands(manager, packages, prefix):
        code = subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode
        if code != 0:
            return _stop(missing, f"`{shlex.join(command)}` failed with exit code {code} (its output is above)")
    still_missing = [need for need in missing if not need.met()]
    if still_missing:
        return _stop(still_missing, f"{manager} installed {' '.join(packages)} but they are still not on PATH")
    return 0


def main() -> int:
    if not SUPPORTED_PYTHON[0] <= sys.version_info[:2] < SUPPORTED_PYTHON[1]:
        print(
            f"maximus: Python 3.11 or 3.12 is needed (found {platform.python_version()} at {sys.executable}): "
            "install one and run make with PYTHON=python3.12 (or python3.11)",
            file=sys.stderr,
        )
        return 1
    missing = [need for need in load_needs() if not need.met()]
    if not missing:
        return 0
    if os.environ.get(SKIP_VARIABLE) == "skip":
        print(f"maximus: going on without {', '.join(n.label for n in missing)} ({SKIP_VARIABLE}=skip)")
        return 0
    return install(missing)


if __name__ == "__main__":
    sys.exit(main())
