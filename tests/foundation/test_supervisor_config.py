"""The supervisord configuration native mode writes."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
from pathlib import Path

from maximus import native
from maximus.native import plan_services, render_prometheus_config
from maximus.supervisor import Program, SupervisorPaths, history, is_running, render_config, stop


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
    source.write_text(
        "rule_files: [rules/a.yml]\nscrape_configs:\n  - job_name: t\n    static_configs:\n"
        "      - targets: ['tracker:8002', 'example.org:9100']\n"
    )
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


def _plan_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Ports where nothing listens, so that the plan is what a machine with nothing running would get."""
    from maximus.stack import services
    from tests.support.processes import free_port

    env = {spec.port_env: str(free_port()) for spec in services().values()}
    return {**env, **extra}


def test_a_private_redis_is_started_when_none_answers(tmp_path: Path) -> None:
    env = _plan_env(tmp_path)
    plan = plan_services(env, tmp_path)
    redis = next(p for p in plan.programs if p.name == "redis")
    assert redis.argv[redis.argv.index("--port") + 1] == env["REDIS_PORT"]
    assert "--appendonly" in redis.argv, "durable totals live there: it persists"


def test_ollama_is_started_when_its_binary_exists_and_nothing_listens(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "bin" / "ollama"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    env = _plan_env(tmp_path)
    ollama = next(p for p in plan_services(env, tmp_path).programs if p.name == "ollama")
    assert ollama.argv == [str(fake), "serve"]
    assert ollama.environment == {"OLLAMA_HOST": f"127.0.0.1:{env['OLLAMA_PORT']}"}


def test_missing_optional_binaries_degrade_the_plan(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(native, "_executable", lambda name: None if name in {"prometheus", "ollama"} else name)
    plan = plan_services(_plan_env(tmp_path), tmp_path)
    assert set(plan.skipped) == {"prometheus", "ollama"} and not plan.errors
    assert "apt-get install prometheus" in plan.skipped["prometheus"]
    assert "OLLAMA_API_BASE" in plan.skipped["ollama"]


def test_an_external_address_that_does_not_answer_is_never_replaced_by_a_local_one(tmp_path: Path) -> None:
    from tests.support.processes import free_port

    env = _plan_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    plan = plan_services(env, tmp_path)
    assert "redis" not in [p.name for p in plan.programs]
    assert "REDIS_URL points at" in plan.errors["redis"]


def test_every_exit_is_restarted_and_the_history_counts_this_up_only(tmp_path: Path) -> None:
    paths = SupervisorPaths(tmp_path)
    text = render_config([Program("redis", ["redis-server"], {})], paths, tmp_path)
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    assert parser["program:redis"]["autorestart"] == "true"  # a clean exit (0) is restarted too
    paths.logs.mkdir()
    (paths.logs / "supervisord.log").write_text(
        "2026-12-03 08:00:00,000 INFO supervisord started with pid 10\n"
        "2026-12-03 08:00:00,100 INFO spawned: 'redis' with pid 11\n"
        "2026-12-03 08:00:09,000 INFO exited: redis (terminated by SIGKILL; not expected)\n"
        "2026-12-03 08:01:00,000 INFO supervisord started with pid 20\n"
        "2026-12-03 08:01:00,100 INFO spawned: 'redis' with pid 21\n"
        "2026-12-03 08:01:00,200 INFO spawned: 'tracker' with pid 22\n"
        "2026-12-03 08:02:00,000 INFO exited: redis (exit status 0; expected)\n"
        "2026-12-03 08:02:01,000 INFO spawned: 'redis' with pid 23\n"
    )
    records = history(paths)
    assert (records["redis"].restarts, records["redis"].last_exit) == (1, "exit status 0; expected")
    assert (records["tracker"].restarts, records["tracker"].last_exit) == (0, None)
