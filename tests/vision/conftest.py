"""Vision fixtures: tiny random V-JEPA 2 checkpoints and the real service started by `maximus serve vision`."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import free_port, running, wait_for_http

# Limits small enough that tests can cross each of them with tiny inputs.
TEST_LIMITS = {
    "VISION_MAX_INPUT_BYTES": "300000",
    "VISION_MAX_IMAGE_PIXELS": "250000",
    "VISION_MAX_FRAMES": "12",
    "VISION_MAX_VIDEO_FRAMES": "30",
    "VISION_MAX_INPUTS": "8",
    "VISION_MAX_REQUEST_BYTES": "2000000",
    "VISION_MAX_TOP_K": "4",
    "VISION_DEFAULT_TOP_K": "3",
    "VISION_MAX_BATCH_SIZE": "8",
}
CLASSIFIER_KEY = "vi-" + "test" * 4


@dataclass
class VisionService:
    base_url: str
    api_key: str | None
    log_path: Path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.base_url + path, json=body, headers=self.headers(), timeout=60, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=self.headers(), timeout=30)

    def metric(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """One sample's value from /metrics (0 when absent)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
        series = f"{name}{{{wanted}}}" if wanted else name
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0


def vision_command(port: int) -> list[str]:
    return [sys.executable, "-m", "maximus.cli", "serve", "vision", "--host", "127.0.0.1", "--port", str(port)]


def service_env(workdir: Path, model_dir: Path, api_key: str | None, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "MAXIMUS_ENV_FILE": str(workdir / "absent.env"),
        "MAXIMUS_RUN_DIR": str(workdir / "run"),
        "VISION_MODEL_DIR": str(model_dir),
        "VISION_DEVICE": "cpu",
        "VISION_CHAT_API_BASE": "",
        "HF_HUB_OFFLINE": "1",
        **TEST_LIMITS,
        **extra,
    }
    if api_key:
        env["VISION_API_KEY"] = api_key
    else:
        env["VISION_API_KEY"] = ""
        env["MAXIMUS_ALLOW_NO_KEY"] = "1"
    return env


def wait_until_settled(service: VisionService, timeout: float = 90.0) -> dict[str, Any]:
    """Poll /readyz until the model is ready or has failed (not while it loads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(service.base_url + "/readyz", timeout=5).json()
        if state["status"] != "loading":
            return state
        time.sleep(0.1)
    raise TimeoutError(f"vision model still loading after {timeout}s; log: {service.log_path}")


@contextlib.contextmanager
def vision_services(
    workdir: Path,
    specs: Mapping[str, tuple[Path, str | None, Mapping[str, str]]],
    ports: Mapping[str, int] | None = None,
) -> Iterator[dict[str, VisionService]]:
    """Start several vision services at once (their imports overlap), wait until each has settled."""
    with contextlib.ExitStack() as stack:
        services = {}
        for name, (model_dir, key, extra) in specs.items():
            port = (ports or {}).get(name) or free_port()
            log_path = workdir / f"vision-{name}-{port}.log"
            stack.enter_context(
                running(vision_command(port), env=service_env(workdir, model_dir, key, extra), log_path=log_path)
            )
            services[name] = VisionService(f"http://127.0.0.1:{port}", key, log_path)
        for service in services.values():
            try:
                wait_for_http(service.base_url + "/healthz", timeout=90)
                wait_until_settled(service)
            except Exception as exc:
                tail = service.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"vision service failed to start: {exc}\n--- log tail ---\n{tail}") from exc
        yield services


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from vision.tiny import write_tiny_model

    root = tmp_path_factory.mktemp("vision-models")
    return {
        "encoder": write_tiny_model(root / "encoder", classifier=False),
        "classifier": write_tiny_model(root / "classifier", classifier=True),
    }


@pytest.fixture(scope="session")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path]
) -> Iterator[dict[str, VisionService]]:
    """The classifier (with a key, short batch wait) and the encoder (no key, long batch wait) services."""
    workdir = tmp_path_factory.mktemp("vision-services")
    specs = {
        "classifier": (tiny_models["classifier"], CLASSIFIER_KEY, {"VISION_MAX_WAIT_MS": "5"}),
        "encoder": (tiny_models["encoder"], None, {"VISION_MAX_WAIT_MS": "250"}),
        "missing": (workdir / "no-such-model", None, {}),
    }
    with vision_services(workdir, specs) as started:
        yield started


@pytest.fixture(scope="session")
def classifier(services: dict[str, VisionService]) -> VisionService:
    return services["classifier"]


@pytest.fixture(scope="session")
def encoder(services: dict[str, VisionService]) -> VisionService:
    return services["encoder"]


@pytest.fixture(scope="session")
def not_ready(services: dict[str, VisionService]) -> VisionService:
    return services["missing"]
