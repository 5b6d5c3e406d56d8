"""A clone with nothing beside it: the repository's own files are all that its tests read.

The checkout's files (what `git clone` would give once committed) are copied into an empty folder, and the tests
that read the repository's data (compose schema, routing development set, MT-Bench, LiteLLM configs) run there
on the copy's code, with an audit hook that records any file opened in the original checkout, beside it, or in a
`shared` folder above it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.outside_reads import LOG_VARIABLE, WATCHED_VARIABLE
from tests.support.processes import REPO

INNER_TESTS = (
    "tests/foundation/test_compose.py",
    "tests/foundation/test_litellm_config.py",
    "tests/router/test_accuracy.py",
)
PACKAGE_ROOTS = ("services", "services/tracker", "cli-proxy")  # pyproject.toml's package folders


def copy_checkout(target: Path) -> None:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    for name in filter(None, listing.split(b"\0")):
        source = REPO / os.fsdecode(name)
        if source.is_file():  # a tracked file deleted in the work tree is not cloned either
            (target / source.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.relative_to(REPO))


def watched_roots(clone: Path) -> list[str]:
    """The original checkout, its siblings (unless the temporary folders are among them) and any ../shared."""
    roots = [REPO, *(ancestor / "shared" for ancestor in REPO.parents)]
    if not Path(tempfile.gettempdir()).resolve().is_relative_to(REPO.parent) and not clone.is_relative_to(REPO.parent):
        roots.append(REPO.parent)
    return [str(root) for root in roots]


def test_a_clone_with_nothing_beside_it_passes_its_data_tests_reading_only_itself(tmp_path: Path) -> None:
    clone = tmp_path / "alone" / "maximus"
    copy_checkout(clone)
    assert [p.name for p in clone.parent.iterdir()] == ["maximus"], "nothing beside the clone"
    reads = tmp_path / "outside-reads.log"
    env = {name: value for name, value in os.environ.items() if name not in {"MAXIMUS_HOME", "PYTHONPATH"}}
    env |= {
        "PYTHONPATH": os.pathsep.join(str(clone / root) for root in PACKAGE_ROOTS),
        WATCHED_VARIABLE: os.pathsep.join(watched_roots(clone)),
        LOG_VARIABLE: str(reads),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.outside_reads"]
    command += ["-m", "not integration and not docker", f"--basetemp={tmp_path / 'inner'}", *INNER_TESTS]
    result = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 20, result.stdout[-2000:]
    assert reads.read_text() == "", f"read outside the clone:\n{reads.read_text()[:2000]}"
