"""`maximus route` contract: JSON lines in, {"tier", "model", "reasons", "score"} lines out, same order, exit 0;
`maximus route calibrate` writes the need threshold for the sovereignty target."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import route_stream
from router.config import load_config
from tests.router.accuracy import dev_cases
from tests.router.fakes import HARD_PROMPT, HARD_WRITING, ask
from tests.router.test_request import MALFORMED

REPO = Path(__file__).resolve().parents[2]


def _route(text: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = route_stream(io.StringIO(text), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_request_bodies_and_case_objects() -> None:
    case = {"id": "x", "kind": "k", "expect": "power", "request": ask(HARD_PROMPT)}
    code, lines = _route(json.dumps(ask("hello!")) + "\n\n" + json.dumps(case) + "\n")
    assert code == 0
    assert [line["tier"] for line in lines] == ["local", "power"]
    for line in lines:
        assert set(line) == {"tier", "model", "reasons", "score"} and isinstance(line["reasons"], list)
        assert 0.0 <= line["score"] <= 1.0
    assert lines[0]["score"] < lines[1]["score"]


def test_score_is_null_without_text_and_on_forced_tiers_present() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    bodies = [
        {"model": "max-auto", "messages": [{"role": "user", "content": [image]}]},
        ask(HARD_PROMPT, model="max-buddy"),
    ]
    code, lines = _route("".join(json.dumps(b) + "\n" for b in bodies))
    assert code == 0
    assert lines[0]["tier"] == "vision" and lines[0]["score"] is None
    assert lines[1]["tier"] == "local" and lines[1]["score"] > 0.5


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
    assert {line["tier"] for line in lines} >= {"local", "vision"}
    assert all("score" in line for line in lines)


@pytest.mark.skipif(
    shutil.which("maximus", path=str(Path(sys.executable).parent)) is None,
    reason="the maximus console script is not installed",
)
def test_maximus_route_command() -> None:
    exe = shutil.which("maximus", path=str(Path(sys.executable).parent))
    body = json.dumps(ask(HARD_WRITING)) + "\n"
    result = subprocess.run([exe, "route"], input=body, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    line = json.loads(result.stdout)
    # Escalated by its need score: at or above the shipped threshold (the score's scale is the model's).
    assert line["tier"] == "creative" and line["score"] >= load_config().need.threshold


def test_cli_answers_every_malformed_line_and_goes_on() -> None:
    lines = [json.dumps(p.values[0]) for p in MALFORMED] + [json.dumps(ask(HARD_WRITING))]
    code, out = _route("\n".join(lines) + "\n")
    assert code == 0 and len(out) == len(lines)
    for line in out[:-1]:
        assert line == {"tier": "local", "model": "max-buddy", "reasons": line["reasons"], "score": None}
        assert "invalid" in line["reasons"][0]
    assert out[-1]["tier"] == "creative"


def test_cli_survives_an_unexpected_error_on_one_line(monkeypatch) -> None:
    from router import cli

    real = cli.route_line

    def flaky(policy, line, spend, health):
        if "boom" in line:
            raise RuntimeError("boom")
        return real(policy, line, spend, health)

    monkeypatch.setattr(cli, "route_line", flaky)
    code, out = _route(json.dumps(ask("boom")) + "\n" + json.dumps(ask("hello")) + "\n")
    assert code == 0 and [line["tier"] for line in out] == ["local", "local"]
    assert "invalid" in out[0]["reasons"][0] and "boom" not in json.dumps(out[0])


def test_cli_lone_surrogate_and_bad_bytes_exit_0_with_one_line_each() -> None:
    lines = [
        b'{"model": "max-auto", "metadata": {"tier": "\\ud800"}, "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "max-auto", "messages": [{"role": "user", "content": "caf\xe9 \\udfff"}]}',
        json.dumps(ask("hello")).encode(),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "router.cli"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line) for line in result.stdout.decode("ascii").splitlines()]
    assert len(out) == 3 and all(line["tier"] == "local" for line in out)
