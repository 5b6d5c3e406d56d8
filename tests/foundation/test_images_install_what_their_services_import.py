"""Each image's pip lines provide every distribution its service imports at start-up.

A package added to pyproject.toml but not to a Dockerfile passes every native test and only shows in containers, as
an unhealthy service (backoff in the CLI proxy's image, once); so does a module split out of one the image copies
file by file (the Ollama double's ollama_logprobs.py, once). What a service imports and loads is read off a real
import of its entry modules in a fresh interpreter, not guessed from source.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from maximus.stack import REPO_ROOT

# The modules each container imports to start: `maximus serve <name>` and its app factory, or for the gateway the
# proxy's callbacks (litellm/config.yaml) and `maximus route learn`, which operators run inside that container.
ENTRY_MODULES = {
    "cli-proxy/Dockerfile": ["maximus.cli", "maximus.serve", "cli_proxy.app"],
    "services/tracker/Dockerfile": ["maximus.cli", "maximus.serve", "tracker.app"],
    "services/vision/Dockerfile": ["maximus.cli", "maximus.serve", "vision.app"],
    "litellm/Dockerfile": [
        "maximus.cli",
        "maximus.gateway",
        "router.litellm_hook",
        "tracker.litellm_callback",
        "router.learn",
        "router.adapter_train",
    ],
    # The test aid that stands in for Ollama in compose.test.yaml: an unhealthy double fails every compose test.
    "tests/compose/ollama-double.Dockerfile": ["tests.doubles.ollama"],
}
# What a base image already holds, by the distribution it was built around.
BASE_IMAGE_DISTRIBUTIONS = {
    "litellm/Dockerfile": ["litellm[proxy]"],
    "services/vision/Dockerfile": ["torch"],
}
OUR_DISTRIBUTION = "maximus"
_PIN = re.compile(r"""([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.!+]*)""")


def imported_distributions(modules: list[str]) -> set[str]:
    """The distributions that our own modules import (directly: what those require, pip installs with them)."""
    script = f"""
import importlib, importlib.metadata as md, json, sys
ROOT = {str(REPO_ROOT)!r}
ours = set()
class Recorder:
    def find_spec(self, name, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
            frame = frame.f_back
        filename = frame.f_code.co_filename if frame is not None else ""
        if filename.startswith(ROOT) and "site-packages" not in filename:
            ours.add(name.split(".")[0])
        return None
sys.meta_path.insert(0, Recorder())
for name in {modules!r}:
    importlib.import_module(name)
owners = md.packages_distributions()
print(json.dumps(sorted({{d for top in ours for d in owners.get(top, ())}})))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return {canonical(name) for name in json.loads(result.stdout)} - {OUR_DISTRIBUTION}


def loaded_files(modules: list[str]) -> set[str]:
    """The repository's own source files that importing `modules` loads, relative to the repository root."""
    script = f"""
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
files = (getattr(m, "__file__", None) for m in list(sys.modules.values()))
print(json.dumps(sorted(f for f in files if f)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    root = REPO_ROOT.resolve()
    paths = (Path(f).resolve() for f in json.loads(result.stdout) if Path(f).is_absolute())
    return {str(p.relative_to(root)) for p in paths if p.is_relative_to(root) and "site-packages" not in p.parts}


def copied_sources(dockerfile: Path) -> list[str]:
    """The build-context paths the Dockerfile's COPY lines take (not those copied from another stage)."""
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
    return sources


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_requirements(roots: list[str]) -> set[str]:
    """The distributions named, with everything they require (extras followed where named), as installed here."""
    seen: set[str] = set()
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonical(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            child = Requirement(line)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(child)
    return {key.split("[")[0] for key in seen}


def pinned_in(dockerfile: Path) -> list[str]:
    return [f"{name}=={version}" for name, version in _PIN.findall(dockerfile.read_text())]


@pytest.mark.parametrize("dockerfile", sorted(ENTRY_MODULES))
def test_the_image_installs_every_distribution_its_service_imports(dockerfile: str) -> None:
    provided = with_requirements(pinned_in(REPO_ROOT / dockerfile) + BASE_IMAGE_DISTRIBUTIONS.get(dockerfile, []))
    missing = imported_distributions(ENTRY_MODULES[dockerfile]) - provided
    assert not missing, f"{dockerfile} does not install {sorted(missing)}, which its service imports"


@pytest.mark.parametrize("dockerfile", sorted(ENTRY_MODULES))
def test_the_image_pins_the_versions_pyproject_pins(dockerfile: str) -> None:
    ours = {canonical(Requirement(line).name): line for line in metadata.requires(OUR_DISTRIBUTION) or []}
    text = (REPO_ROOT / dockerfile).read_text()
    for name, version in _PIN.findall(text):
        pin = ours.get(canonical(name))
        if pin is not None:
            assert f"=={version}" in pin, f"{dockerfile} pins {name}=={version}, pyproject.toml says {pin}"


@pytest.mark.parametrize("dockerfile", sorted(ENTRY_MODULES))
def test_the_image_copies_every_module_its_service_loads(dockerfile: str) -> None:
    sources = copied_sources(REPO_ROOT / dockerfile)
    missing = sorted(
        f
        for f in loaded_files(ENTRY_MODULES[dockerfile])
        if not any(f == s or f.startswith(s + "/") or s == "." for s in sources)
    )
    assert not missing, f"{dockerfile} does not copy {missing}, which its service loads"
