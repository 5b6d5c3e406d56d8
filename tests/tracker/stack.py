"""The whole tracking path as real processes: OpenAI double, LiteLLM proxy with our callback, Redis, the
tracker, and Prometheus scraping it with the project's prometheus.yml (targets rewritten to local ports)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.processes import REPO, free_port, running
from tests.tracker.conftest import TEST_LITELLM_CONFIG, TEST_TRACKER_CONFIG, RedisProcess, TrackerProcess

MASTER_KEY = "sk-tracker-test-" + "m4st3r"
PROMETHEUS_DIR = REPO / "prometheus"


@dataclass
class Stack:
    redis: RedisProcess
    tracker: TrackerProcess
    proxy_url: str
    prometheus_url: str | None
    spool_dir: Path


def proxy_env(double_port: int, redis_url: str, spool_dir: Path) -> dict[str, str]:
    return {
        "DOUBLE_BASE": f"http://127.0.0.1:{double_port}/v1",
        "DOUBLE_KEY": "double-key",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MAXIMUS_REDIS_URL": redis_url,
        "MAXIMUS_SPOOL_DIR": str(spool_dir),
        "MAXIMUS_LITELLM_CONFIG": str(TEST_LITELLM_CONFIG),
        "TRACKER_CONFIG": str(TEST_TRACKER_CONFIG),
        "PYTHONPATH": str(REPO),
    }


def local_prometheus_config(ports: dict[str, int], scrape_interval: str = "1s") -> dict:
    """prometheus.yml as native mode runs it: host:port targets -> 127.0.0.1:<port>, rule paths absolute."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval})
    config["rule_files"] = [str(PROMETHEUS_DIR / path) for path in config["rule_files"]]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [
                re.sub(r"^[\w.-]+:(\d+)$", lambda m: f"127.0.0.1:{ports[m.group(1)]}", target)
                for target in static["targets"]
            ]
    return config


def _recording_interval(tmp: Path) -> list[str]:
    """The recording rules with a 1 s group interval (the shipped files say 30 s)."""
    out = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        rules = yaml.safe_load(path.read_text())
        for group in rules["groups"]:
            group.pop("interval", None)
        target = tmp / path.name
        target.write_text(yaml.safe_dump(rules))
        out.append(str(target))
    return out


@contextlib.contextmanager
def tracking_stack(tmp: Path, with_prometheus: bool = True) -> Iterator[Stack]:
    redis_server = RedisProcess(tmp / "redis", persistent=False)
    redis_server.start()
    tracker = TrackerProcess(redis_server.url, tmp / "tracker")
    spool_dir = tmp / "spool"
    double_port, proxy_port = free_port(), free_port()
    config = tmp / "litellm_config.yaml"
    shutil.copy(TEST_LITELLM_CONFIG, config)
    try:
        tracker.start()
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                running(
                    [sys.executable, "-m", "tests.tracker.openai_double", "--port", str(double_port)],
                    log_path=tmp / "double.log",
                    health_url=f"http://127.0.0.1:{double_port}/healthz",
                )
            )
            stack.enter_context(
                running(
                    [
                        str(Path(sys.executable).parent / "litellm"),
                        "--config",
                        str(config),
                        "--port",
                        str(proxy_port),
                        "--num_workers",
                        "1",
                    ],
                    env=proxy_env(double_port, redis_server.url, spool_dir),
                    log_path=tmp / "proxy.log",
                    health_url=f"http://127.0.0.1:{proxy_port}/health/liveliness",
                    timeout=120,
                    cwd=tmp,
                )
            )
            prometheus_url = None
            if with_prometheus:
                prometheus_url = stack.enter_context(_prometheus(tmp, tracker.port, proxy_port))
            yield Stack(redis_server, tracker, f"http://127.0.0.1:{proxy_port}", prometheus_url, spool_dir)
    finally:
        tracker.stop()
        redis_server.stop()


@contextlib.contextmanager
def _prometheus(tmp: Path, tracker_port: int, proxy_port: int) -> Iterator[str]:
    ports = {"8002": tracker_port, "4000": proxy_port, "8080": free_port(), "8001": free_port()}
    config = local_prometheus_config(ports)
    config["rule_files"] = _recording_interval(tmp)
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    data = tmp / "tsdb"
    data.mkdir()
    cmd = [
        "prometheus",
        f"--config.file={path}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(
        cmd,
        log_path=tmp / "prometheus.log",
        health_url=f"http://127.0.0.1:{port}/-/ready",
        env={"HOME": os.environ.get("HOME", str(tmp))},
    ):
        yield f"http://127.0.0.1:{port}"
