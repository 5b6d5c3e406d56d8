"""The whole tracking path as real processes: the OpenAI double, LiteLLM proxy with our callback, Redis, the
tracker, and Prometheus scraping it with the project's prometheus.yml as native mode renders it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from maximus.native import render_prometheus_config
from tests.support.processes import REPO, VENV_BIN, free_port, running
from tests.support.stack import PrometheusServer, openai_double, prometheus_server
from tests.tracker.conftest import TEST_LITELLM_CONFIG, TEST_TRACKER_CONFIG, RedisProcess, TrackerProcess

MASTER_KEY = "sk-tracker-test-" + "m4st3r"
# Every answer of the OpenAI double reports this usage (prompt, completion): the tests assert exact token totals.
DOUBLE_USAGE = (11, 5)
EVALUATION_INTERVAL = "1s"  # the shipped prometheus.yml and rules say 15 s and 30 s


@dataclass
class Stack:
    redis: RedisProcess
    tracker: TrackerProcess
    proxy_url: str
    prometheus: PrometheusServer | None
    spool_dir: Path


def proxy_env(double_base_url: str, redis_url: str, spool_dir: Path) -> dict[str, str]:
    return {
        "DOUBLE_BASE": double_base_url,
        "DOUBLE_KEY": "double-key",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MAXIMUS_REDIS_URL": redis_url,
        "MAXIMUS_SPOOL_DIR": str(spool_dir),
        "MAXIMUS_LITELLM_CONFIG": str(TEST_LITELLM_CONFIG),
        "TRACKER_CONFIG": str(TEST_TRACKER_CONFIG),
        "PYTHONPATH": str(REPO),
    }


@contextlib.contextmanager
def litellm_process(
    tmp: Path, config: Path, env: Mapping[str, str], name: str = "proxy", timeout: float = 120
) -> Iterator[str]:
    """The real LiteLLM proxy with a test config (one worker); yields its base URL."""
    port = free_port()
    cmd = [str(VENV_BIN / "litellm"), "--config", str(config), "--port", str(port), "--num_workers", "1"]
    health_url = f"http://127.0.0.1:{port}/health/liveliness"
    with running(cmd, env=env, log_path=tmp / f"{name}.log", health_url=health_url, timeout=timeout, cwd=tmp):
        yield f"http://127.0.0.1:{port}"


def local_prometheus_config(tmp: Path, ports: Mapping[str, int]) -> dict:
    """prometheus.yml as native mode renders it (`ports`: TRACKER_PORT, LITELLM_PORT, ...), evaluated every 1 s."""
    env = {name: str(port) for name, port in ports.items()}
    config = yaml.safe_load(render_prometheus_config(env, tmp / "rendered" / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": EVALUATION_INTERVAL, "evaluation_interval": EVALUATION_INTERVAL})
    return config


@contextlib.contextmanager
def tracking_stack(tmp: Path, with_prometheus: bool = True) -> Iterator[Stack]:
    redis_server = RedisProcess(tmp / "redis", persistent=False)
    redis_server.start()
    tracker = TrackerProcess(redis_server.url, tmp / "tracker")
    spool_dir = tmp / "spool"
    config = tmp / "litellm_config.yaml"
    shutil.copy(TEST_LITELLM_CONFIG, config)
    try:
        tracker.start()
        with contextlib.ExitStack() as stack:
            double = stack.enter_context(openai_double(tmp, "tiers", usage=DOUBLE_USAGE))
            env = proxy_env(double.base_url, redis_server.url, spool_dir)
            proxy_url = stack.enter_context(litellm_process(tmp, config, env))
            prometheus = None
            if with_prometheus:
                ports = {
                    "TRACKER_PORT": tracker.port,
                    "LITELLM_PORT": httpx.URL(proxy_url).port,
                    "CLI_PROXY_PORT": free_port(),  # nothing listens: scraped as down
                    "VISION_PORT": free_port(),
                }
                prometheus = stack.enter_context(prometheus_server(tmp, local_prometheus_config(tmp, ports)))
            yield Stack(redis_server, tracker, proxy_url, prometheus, spool_dir)
    finally:
        tracker.stop()
        redis_server.stop()
