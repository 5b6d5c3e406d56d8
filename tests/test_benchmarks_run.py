"""Every benchmark of `make bench` still runs (tiny workloads): a bench that rots silently measures nothing.

The figures are not checked here: speed is measured by `make bench`, never asserted in tests.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import REPO

SMALL_RUNS = {
    "bench.cascade": ["--rounds", "1", "--requests", "3"],
    "bench.cli_proxy": ["--repeats", "3", "--warm-repeats", "2", "--memory-requests", "10"],
    "bench.privacy": ["--benign", "200", "--decisions", "50", "--megabytes", "0.05"],
    "bench.gateway": [
        "--rounds",
        "2",
        "--sequential",
        "5",
        "--burst",
        "16",
        "--streams",
        "2",
        "--memory-requests",
        "40",
    ],
    "bench.router": ["--decisions", "50"],
    "bench.sovereignty": ["--passes", "1", "--limit", "40"],
    "bench.tracker": ["--events", "200", "--requests", "5"],
    "bench.vision": ["--repeats", "1", "--no-vitl", "--memory-requests", "20"],
}


@pytest.mark.integration
@pytest.mark.parametrize("module", sorted(SMALL_RUNS))
def test_benchmark_runs(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, *SMALL_RUNS[module]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.strip(), "a benchmark prints its figures"


def test_every_benchmark_module_is_exercised() -> None:
    # bench/_name.py is a part that another benchmark prints (bench._adapter, by bench.router).
    modules = {f"bench.{path.stem}" for path in (REPO / "bench").glob("*.py") if not path.stem.startswith("_")}
    assert modules == set(SMALL_RUNS)
