"""`maximus route` contract: JSON lines in, {"tier", "model", "reasons"} lines out, same order, exit 0."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import route_stream
from tests.router.accuracy import dev_cases
from tests.router.fakes import ask

REPO = Path(__file__).resolve().parents[2]


def _route(text: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = route_stream(io.StringIO(text), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_request_bodies_and_case_objects() -> None:
    case = {"id": "x", "kind": "k", "expect": "power", "request": ask("Write a Rust function that parses JSON.")}
    code, lines = _route(json.dumps(ask("hello!")) + "\n\n" + json.dumps(case) + "\n")
    assert code == 0
    assert [line["tier"] for line in lines] == ["local", "power"]
    for line in lines:
        assert set(line) == {"tier", "model", "reasons"} and isinstance(line["reasons"], list)


def test_invalid_line_keeps_the_order_and_exit_code() -> None:
    code, lines = _route("not json\n" + json.dumps(ask("hi")) + "\n[1, 2]\n")
    assert code == 0 and len(lines) == 3
    assert lines[0]["tier"] == "local" and "invalid" in lines[0]["reasons"][0]


def test_python_module_entry_on_the_development_set() -> None:
    dev = "".join(json.dumps(case) + "\n" for case in dev_cases())
    result = subprocess.run(
        [sys.executable, "-m", "router.cli"], input=dev, capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(dev_cases())
    assert {line["tier"] for line in lines} == {"local", "power", "creative", "vision"}


@pytest.mark.skipif(
    shutil.which("maximus", path=str(Path(sys.executable).parent)) is None,
    reason="the maximus console script is not installed",
)
def test_maximus_route_command() -> None:
    exe = shutil.which("maximus", path=str(Path(sys.executable).parent))
    body = json.dumps(ask("Write a haiku about autumn leaves.")) + "\n"
    result = subprocess.run([exe, "route"], input=body, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["tier"] == "creative"
