"""The `maximus` command line: each command's contract as a user meets it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from maximus.cli import app
from tests.support.stack import closed_port_url

runner = CliRunner()


def test_serve_refuses_an_unknown_service() -> None:
    result = runner.invoke(app, ["serve", "mailer"])
    assert result.exit_code == 2
    assert "choose one of: tracker, cli-proxy, vision, litellm" in result.output


def test_route_prints_one_decision_per_line() -> None:
    bodies = [
        {"model": "max-auto", "messages": [{"role": "user", "content": "hello"}]},
        {"model": "max-auto", "messages": [{"role": "user", "content": "keep this local: my plans"}]},
    ]
    result = runner.invoke(app, ["route"], input="".join(json.dumps(b) + "\n" for b in bodies))
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["tier"] for d in decisions] == ["local", "local"]
    assert all(set(d) == {"tier", "model", "reasons", "score"} for d in decisions)
    assert any("privacy" in reason for reason in decisions[1]["reasons"])


def test_dashboard_without_a_tracker_says_so_and_fails() -> None:
    result = runner.invoke(app, ["dashboard", "--once", "--url", closed_port_url()])
    assert result.exit_code == 1
    assert "cannot reach the tracker" in result.output and "maximus status" in result.output


def test_fetch_model_offline_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    result = runner.invoke(
        app, ["vision", "fetch-model", "facebook/vjepa2-vitl-fpc16-256-ssv2", "--target", str(tmp_path / "weights")]
    )
    assert result.exit_code == 1
    assert "facebook/vjepa2-vitl-fpc16-256-ssv2" in result.output and "Traceback" not in result.output


def test_a_bad_port_setting_is_one_clear_line(monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_PORT", "abc")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "LITELLM_PORT='abc' is not a port number" in result.output and "Traceback" not in result.output


def test_auto_mode_is_native_without_a_docker_engine(monkeypatch) -> None:
    from maximus import compose, lifecycle

    monkeypatch.setattr(compose, "unavailable_reason", lambda: "no Docker engine answers `docker info`")
    assert lifecycle._choose_mode("auto") == ("native", "no Docker engine answers `docker info`")
    monkeypatch.setattr(compose, "unavailable_reason", lambda: None)
    assert lifecycle._choose_mode("auto") == ("compose", "")
