"""The supervisord configuration native mode writes."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

from maximus.native import plan_services, render_prometheus_config
from maximus.supervisor import Program, SupervisorPaths, is_running, render_config, stop


def test_arguments_survive_quoting_and_percent_signs(tmp_path: Path) -> None:
    program = Program("redis", ["redis-server", "--save", "60 1", "--dir", "/tmp/100%/x"], {"A": "b%c"})
    text = render_config([program], SupervisorPaths(tmp_path), tmp_path)
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    section = parser["program:redis"]
    command = section["command"].replace("%%", "%")
    assert shlex.split(command) == ["redis-server", "--save", "60 1", "--dir", "/tmp/100%/x"]
    assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
    assert 'A="b%%c"' in section["environment"]


def test_no_secret_reaches_the_supervisor_config(tmp_path: Path) -> None:
    env = {"MAXIMUS_MASTER_KEY": "sk-" + "s3cr3t" * 4, "REDIS_PORT": "1", "OLLAMA_PORT": "2"}
    plan = plan_services(env, tmp_path)
    text = render_config(plan.programs, SupervisorPaths(tmp_path), tmp_path)
    assert env["MAXIMUS_MASTER_KEY"] not in text
    assert all(env["MAXIMUS_MASTER_KEY"] not in " ".join(p.argv) for p in plan.programs)


def test_prometheus_targets_are_rewritten_to_native_ports(tmp_path: Path) -> None:
    source = tmp_path / "prometheus.yml"
    source.write_text("rule_files: [rules/a.yml]\nscrape_configs:\n  - job_name: t\n    static_configs:\n"
                      "      - targets: ['tracker:8002', 'example.org:9100']\n")
    rendered = render_prometheus_config({"TRACKER_PORT": "18002"}, tmp_path / "out.yml", source).read_text()
    assert "127.0.0.1:18002" in rendered and "example.org:9100" in rendered
    assert str(tmp_path / "rules" / "a.yml") in rendered


def test_a_stale_pidfile_naming_another_process_is_never_ours(tmp_path: Path) -> None:
    """After a reboot the pidfile may name a reused pid: `down` must not signal it, `up` must not trust it."""
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        paths = SupervisorPaths(tmp_path)
        paths.pidfile.write_text(str(stranger.pid))
        assert not is_running(paths)
        assert stop(paths) == []
        assert stranger.poll() is None, "an unrelated process was killed"
    finally:
        stranger.kill()
        stranger.wait()
