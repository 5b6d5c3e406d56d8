"""Real requests through the real LiteLLM proxy with our callback; the tracker counts them exactly, and every
Grafana panel query parses and returns data from a real Prometheus scraping that tracker."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator

import httpx
import jsonschema
import pytest

from tests.support.processes import REPO
from tests.support.stack import PrometheusServer
from tests.tracker.conftest import wait_consumed
from tests.tracker.stack import MASTER_KEY, Stack, tracking_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed"),
]

DASHBOARD = REPO / "grafana" / "dashboards" / "sovereignty.json"
SCHEMA = REPO / "tests" / "schemas" / "grafana-dashboard-v11.6.jsonschema.json"
LOCAL = {"tier": "local", "reasons": ["default"]}
PRIVATE = {"tier": "local", "reasons": ["privacy"], "privacy": ["secret"]}
CODE = {"tier": "power", "reasons": ["code"]}
# (model group, stream, router metadata): every tier, streaming, two fallbacks (power -> local), one failure.
LOAD = (
    [("max-buddy", False, LOCAL)] * 3
    + [("max-planner", True, PRIVATE)] * 2
    + [("max-genius", False, CODE)] * 2
    + [
        ("max-opus", True, {"tier": "creative", "reasons": ["creative"]}),
        ("max-vision", False, {"tier": "vision", "reasons": ["vision"]}),
        ("max-cloud", False, {"tier": "cloud", "reasons": ["explicit"]}),
        ("max-cloud", True, {"tier": "cloud", "reasons": ["explicit"]}),
        ("max-flaky", False, CODE),
        ("max-flaky", True, CODE),
        ("max-dead", False, {"tier": "cloud", "reasons": ["explicit"]}),
    ]
)


def send(base_url: str, model: str, stream: bool, route: dict) -> int:
    body = {
        "model": model,
        "stream": stream,
        "maximus_test_route": route,
        "messages": [{"role": "user", "content": "count me once"}],
    }
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        r.read()
        return r.status_code


def prom_query(prometheus: PrometheusServer, expr: str) -> list[dict]:
    return prometheus.query(expr)["result"]


def wait_prometheus(prometheus: PrometheusServer, expr: str, expected: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prom_query(prometheus, expr)
        if result and float(result[0]["value"][1]) == expected:
            return
        time.sleep(0.5)
    raise TimeoutError(f"Prometheus never saw {expr} == {expected}")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with tracking_stack(tmp_path_factory.mktemp("stack")) as stack:
        # The zero series must be scraped before the first request, or rate() misses it.
        wait_prometheus(stack.prometheus, 'count(maximus_requests_total{job="tracker"})', 16)
        statuses = [send(stack.proxy_url, model, stream, route) for model, stream, route in LOAD]
        assert statuses == [200] * (len(LOAD) - 1) + [503]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = stack.tracker.stats()
            if stats["requests"] + stats["failures"] >= len(LOAD):
                break
            time.sleep(0.2)
        wait_consumed(stack.redis.url)
        yield stack


def test_real_requests_are_counted_exactly(loaded: Stack) -> None:
    stats = loaded.tracker.stats()
    answered = {tier: row["requests"] for tier, row in stats["tiers"].items()}
    assert answered == {"local": 7, "power": 2, "creative": 1, "vision": 1, "cloud": 2}
    assert {tier: row["failures"] for tier, row in stats["tiers"].items()} == {
        "local": 0,
        "power": 0,
        "creative": 0,
        "vision": 0,
        "cloud": 1,
    }
    assert stats["tokens"] == {"input": 13 * 11, "output": 13 * 5}  # streamed usage included
    assert stats["sovereignty_ratio"]["all_time"] == pytest.approx(8 / 13)
    assert stats["budget"]["spent_usd"] == pytest.approx(2 * (11 * 1000 + 5 * 2000) / 1e6)
    assert stats["fallbacks"] == {"power->local": 2}
    assert stats["privacy_pins"] == {"secret": 2}
    assert stats["route_decisions"] == {
        "local:default": 3,
        "local:privacy": 2,
        "power:code": 4,
        "creative:creative": 1,
        "vision:vision": 1,
        "cloud:explicit": 3,
    }
    assert stats["tiers"]["power"]["attempt_failures"] == 2  # the flaky attempts that fell back
    audit = (loaded.tracker.directory / "audit" / "audit.jsonl").read_text()
    assert len(audit.splitlines()) == len(LOAD) and "count me once" not in audit
    assert not list(loaded.spool_dir.glob("*.jsonl"))  # Redis was up: nothing spooled


def panel_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]


def grafana_to_promql(expr: str) -> str:
    return expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s")


def test_dashboard_is_valid_grafana_11_6() -> None:
    board = json.loads(DASHBOARD.read_text())
    jsonschema.validate(board, json.loads(SCHEMA.read_text()))
    assert board["title"] == "Maximus: Sovereignty" and "__inputs" not in board
    assert "${DS_" not in DASHBOARD.read_text()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    datasource_uid = "uid: maximus-prometheus"
    assert datasource_uid in (REPO / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    for panel in board["panels"]:
        refs = [panel["datasource"]] + [target["datasource"] for target in panel["targets"]]
        assert all(ref == {"type": "prometheus", "uid": "maximus-prometheus"} for ref in refs), panel["title"]


@pytest.mark.parametrize(("title", "expr"), panel_queries())
def test_every_panel_query_returns_data(loaded: Stack, title: str, expr: str) -> None:
    prometheus = loaded.prometheus
    wait_prometheus(prometheus, 'sum(maximus_requests_total{job="tracker"})', len(LOAD))
    for window in ("1h", "24h", "30d"):  # rules evaluated after the load (NaN before it)
        wait_prometheus(prometheus, f"count(maximus:sovereignty_ratio:{window} > 0)", 1)
    result = prom_query(prometheus, grafana_to_promql(expr))
    values = [float(sample["value"][1]) for sample in result]
    assert any(math.isfinite(v) for v in values), f"{title}: {expr} returned {result}"


def test_prometheus_sees_the_exact_counts_and_rules(loaded: Stack) -> None:
    prometheus = loaded.prometheus
    wait_prometheus(prometheus, 'sum(maximus_requests_total{job="tracker"})', len(LOAD))
    wait_prometheus(prometheus, 'sum(maximus_requests_total{tier=~"local|vision",outcome="success"})', 8)
    wait_prometheus(prometheus, 'sum(maximus_fallbacks_total{from_tier="power",to_tier="local"})', 2)
    ratio = prom_query(prometheus, "maximus_sovereignty_ratio")
    assert float(ratio[0]["value"][1]) == pytest.approx(8 / 13)
    recent = prom_query(prometheus, "maximus_sovereignty_ratio_recent")  # 13 answers: all inside the window
    assert float(recent[0]["value"][1]) == pytest.approx(8 / 13)
    windowed = prom_query(prometheus, "maximus:sovereignty_ratio:1h")
    assert 0 < float(windowed[0]["value"][1]) <= 1
    down = {s["metric"]["job"]: s["value"][1] for s in prom_query(prometheus, "up")}
    assert down["tracker"] == "1" and down["litellm"] == "1"  # LiteLLM's /metrics/ without a key
    assert down["vision"] == "0" and down["cli-proxy"] == "0"  # not running here: scraped as down
