"""The bootstrap's decisions (install, already present, cannot install) against recording package managers.

PATH holds only fake apt-get, sudo and brew scripts that record their arguments (and "install" by creating the
commands), plus the commands a test declares present: nothing on this machine is installed or queried.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from maximus import bootstrap
from tests.support.processes import REPO

COMMANDS = [need.command for need in bootstrap.load_needs() if need.command]
RECORD = 'echo "${0##*/} $*" >> "$FAKE_LOG"\n'
# An installed package leaves its command on PATH (brew's formulas are named differently).
INSTALL = """
for package in "$@"; do
    case "$package" in -*|install|update) continue;; redis) package=redis-server;; node) package=npm;; esac
    : > "$FAKE_BIN/$package" && /bin/chmod +x "$FAKE_BIN/$package"
done
"""
FAKES = {
    "apt-get": RECORD + '[ "$1" = install ] && { ' + INSTALL + "}\nexit ${FAKE_APT_EXIT:-0}\n",
    "brew": RECORD + INSTALL,
    "sudo": RECORD + '[ "$1 $2" = "-n true" ] && exit ${FAKE_SUDO_EXIT:-0}\nshift\nexec "$@"\n',
}


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build a PATH of recording doubles; returns a function taking the fakes and the commands present."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    bin_dir.mkdir()
    log.touch()
    (bin_dir / "env").symlink_to("/usr/bin/env")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_BIN", str(bin_dir))
    monkeypatch.delenv(bootstrap.SKIP_VARIABLE, raising=False)

    def build(fakes: tuple[str, ...], missing: tuple[str, ...] = ()) -> Path:
        for name in fakes:
            (bin_dir / name).write_text("#!/bin/sh\n" + FAKES[name])
        for name in set(COMMANDS) - set(missing):
            (bin_dir / name).write_text("#!/bin/sh\n")
        for path in bin_dir.iterdir():
            if not path.is_symlink():
                path.chmod(0o755)
        return log

    return build


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "is_root", lambda: False)


def one_line(text: str) -> str:
    assert text.strip() and "\n" not in text.strip(), f"expected one line, got {text!r}"
    return text.strip()


def test_nothing_missing_runs_nothing_and_needs_only_the_standard_library(fake_path) -> None:
    log = fake_path(("apt-get", "sudo"))
    script = Path(bootstrap.__file__)
    # -S: no site-packages, as with a system Python before the venv exists.
    result = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    assert calls(log) == []


def test_as_root_apt_installs_exactly_what_is_missing_then_nothing(fake_path, monkeypatch, capsys) -> None:
    log = fake_path(("apt-get", "sudo"), missing=("redis-server", "prometheus"))
    monkeypatch.setattr(bootstrap, "is_root", lambda: True)
    assert bootstrap.main() == 0
    apt = "apt-get"
    assert calls(log) == [
        f"{apt} update -qq",
        f"{apt} install -y -qq --no-install-recommends redis-server prometheus",
    ]
    assert "installing redis-server prometheus with apt-get" in capsys.readouterr().out
    assert bootstrap.main() == 0
    assert len(calls(log)) == 2, "a second run installs nothing"


def test_a_user_with_passwordless_sudo_installs_through_sudo(fake_path, monkeypatch) -> None:
    log = fake_path(("apt-get", "sudo"), missing=("npm",))
    as_user(monkeypatch)
    assert bootstrap.main() == 0
    assert calls(log) == [
        "sudo -n true",
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        "apt-get update -qq",
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm",
        "apt-get install -y -qq --no-install-recommends nodejs npm",
    ]


@pytest.mark.parametrize("fakes", [("apt-get", "sudo"), ("apt-get",)], ids=["sudo-asks-a-password", "no-sudo"])
def test_a_user_who_would_be_asked_a_password_gets_the_exact_command(fake_path, monkeypatch, capsys, fakes) -> None:
    monkeypatch.setenv("FAKE_SUDO_EXIT", "1")
    log = fake_path(fakes, missing=("redis-server", "prometheus"))
    as_user(monkeypatch)
    assert bootstrap.main() == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("maximus: missing redis-server, prometheus: run `sudo apt-get update && ")
    assert "sudo apt-get install -y --no-install-recommends redis-server prometheus`" in line
    assert not any(call.startswith("apt-get") for call in calls(log)), "nothing is installed"


def test_homebrew_installs_as_the_user_without_sudo(fake_path, monkeypatch) -> None:
    log = fake_path(("brew", "sudo"), missing=("redis-server", "npm"))
    as_user(monkeypatch)
    assert bootstrap.main() == 0
    assert calls(log) == ["brew install redis node"]
    assert bootstrap.main() == 0 and len(calls(log)) == 1


def test_no_package_manager_says_what_is_missing(fake_path, monkeypatch, capsys) -> None:
    fake_path((), missing=("prometheus",))
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    assert bootstrap.main() == 1
    assert one_line(capsys.readouterr().err).startswith(
        "maximus: missing prometheus: install them with your system's package manager"
    )


def test_a_failed_install_stops_with_the_failing_command(fake_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FAKE_APT_EXIT", "100")
    fake_path(("apt-get",), missing=("prometheus",))
    monkeypatch.setattr(bootstrap, "is_root", lambda: True)
    assert bootstrap.main() == 1
    line = one_line(capsys.readouterr().err)
    assert "`env DEBIAN_FRONTEND=noninteractive apt-get update -qq` failed with exit code 100" in line


def test_skip_goes_on_without_installing(fake_path, monkeypatch, capsys) -> None:
    log = fake_path(("apt-get", "sudo"), missing=("prometheus",))
    monkeypatch.setenv(bootstrap.SKIP_VARIABLE, "skip")
    assert bootstrap.main() == 0
    assert calls(log) == [] and "going on without prometheus" in capsys.readouterr().out


def test_a_python_without_venv_support_names_its_versioned_package(fake_path, monkeypatch, capsys) -> None:
    fake_path(("apt-get",))
    as_user(monkeypatch)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ensurepip" else find_spec(name))
    assert bootstrap.main() == 1
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    line = one_line(capsys.readouterr().err)
    assert line.startswith("maximus: missing Python's ensurepip: run `sudo apt-get update && ")
    assert f"--no-install-recommends python{version}-venv`" in line


def test_an_unsupported_python_stops_before_anything_else(fake_path, monkeypatch, capsys) -> None:
    log = fake_path(("apt-get",), missing=("redis-server",))
    monkeypatch.setattr(bootstrap.sys, "version_info", (3, 10, 12))
    assert bootstrap.main() == 1
    assert "Python 3.11 or 3.12 is needed" in one_line(capsys.readouterr().err)
    assert calls(log) == []


@pytest.mark.parametrize("target", ["install", "up", "test"])
def test_make_runs_the_bootstrap_before_any_slow_step(target: str) -> None:
    # -n prints the recipes without running them; -B as on a fresh clone, where nothing is built yet.
    # --no-print-directory: under `make test` this runs as a sub-make, which would otherwise print "Entering".
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target, "PYTHON=python3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "python3 services/maximus/bootstrap.py"
