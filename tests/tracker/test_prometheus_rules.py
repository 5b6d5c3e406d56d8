"""The Prometheus configuration, rules and their unit tests, checked with the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import REPO

PROM = REPO / "prometheus"
pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_config_is_valid() -> None:
    result = promtool("check", "config", PROM / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", *sorted((PROM / "rules").glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", *sorted((PROM / "tests").glob("*_test.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {
        line.split(":", 1)[1].strip()
        for line in (PROM / "rules" / "alerts.yml").read_text().splitlines()
        if line.strip().startswith("- alert:")
    }
    tested = "".join(p.read_text() for p in (PROM / "tests").glob("*_test.yml"))
    assert alerts == {a for a in alerts if f"alertname: {a}" in tested}


def test_targets_keep_host_port_form_and_rule_paths_relative() -> None:
    text = (PROM / "prometheus.yml").read_text()
    for target in ("tracker:8002", "litellm:4000", "cli-proxy:8080", "vision:8001"):
        assert f'"{target}"' in text
    assert "- rules/recording.yml" in text and "- rules/alerts.yml" in text
