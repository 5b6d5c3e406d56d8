"""What the router learns, as the tracker shows it (tracker.learning): labels collected by source, the adapter's
age and the guard's verdict, the cascade's escalations, on /metrics, in /stats and in `maximus dashboard`; and
the counting rule the cascade relies on (a local answer it replaced is an attempt, never a request)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from rich.console import Console

from router import adapter as adapter_store
from router.adapter import Adapter
from router.config import LearningConfig
from router.labels import LabelStore, make_label
from tests.tracker.conftest import TRACKER_KEY, RedisProcess, TrackerProcess, wait_consumed
from tests.tracker.test_pipeline import make_callback, metric
from tracker import dashboard, learning
from tracker.accounting import resolve
from tracker.events import SUCCESS, AttemptEvent
from tracker.settings import load_settings

pytestmark = pytest.mark.integration


def _adapter(verdict: str, created: float) -> Adapter:
    guard = {"verdict": verdict, "shipped_apgr": 0.55, "adapted_apgr": 0.61, "labels": 60, "folds": 5, "repeats": 5}
    return Adapter(0.01, {7: (1.5, 0.2)}, 4.0, 0.3, guard, 60, created, "a1b2c3d4e5f60718")


def _labels(client: redis.Redis) -> None:
    store = LabelStore(client, LearningConfig())
    rows = [("feedback", False, None)] * 3 + [("reask", False, None)] * 2 + [("file", True, True)] * 4
    store.add_many([make_label(f"question {i}", 1, local, strong, src) for i, (src, local, strong) in enumerate(rows)])


async def test_labels_adapter_and_escalations_on_metrics_stats_and_dashboard(
    redis_proc: RedisProcess, tracker_proc: TrackerProcess, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_proc.url)
    _labels(client)
    adapter_store.save(client, LearningConfig(), _adapter("refused", time.time() - 120))
    cb = make_callback(redis_proc.url, tmp_path / "spool")
    escalated = AttemptEvent(SUCCESS, "c1", model_group="max-genius", tier="power", routed_tier="power")
    escalated.route_reasons = ["default", "cascade"]
    cb.publisher.publish(escalated)
    assert await cb.publisher.drain(30)
    await cb.publisher.close()
    wait_consumed(redis_proc.url)

    text = tracker_proc.metrics()
    assert metric(text, 'maximus_labels{source="feedback"}') == 3
    assert metric(text, 'maximus_labels{source="reask"}') == 2
    assert metric(text, 'maximus_labels{source="file"}') == 4
    assert metric(text, 'maximus_labels{source="judge"}') == 0
    assert metric(text, 'maximus_adapter_guard{verdict="refused"}') == 1
    assert metric(text, 'maximus_adapter_guard{verdict="used"}') == 0
    assert 119 <= metric(text, "maximus_adapter_age_seconds") < 600
    assert metric(text, "maximus_cascade_escalations_total") == 1
    assert "question" not in text  # counts only: no label text, no prompt

    stats = tracker_proc.stats()["learning"]
    assert stats["labels"]["feedback"] == 3 and stats["adapter"]["verdict"] == "refused"
    assert stats["cascade_escalations"] == 1

    adapter_store.save(client, LearningConfig(), _adapter("accepted", time.time() - 7200))
    assert metric(tracker_proc.metrics(), 'maximus_adapter_guard{verdict="used"}') == 1
    console = Console(record=True, width=200)
    dashboard.run(tracker_proc.base_url, TRACKER_KEY, once=True, interval=1.0, console=console)
    frame = console.export_text()
    assert "labels feedback: 3, reask: 2, file: 4" in frame
    assert "adapter used (60 labels, age 2 h, held-back APGR 0.61 against the shipped 0.55)" in frame
    assert "cascade escalations 1" in frame


def test_without_labels_or_adapter_the_figures_are_zero() -> None:
    assert learning.label_counts(None) == {"feedback": 0, "reask": 0, "judge": 0, "file": 0, "other": 0}
    assert learning.adapter_summary({}) is None
    line = dashboard.learning_line(learning.figures(learning.label_counts([]), None, {}))
    assert "labels none" in line.plain and "adapter none" in line.plain


def test_a_local_answer_the_cascade_replaced_is_an_attempt_not_a_request() -> None:
    settings = load_settings()
    draft = AttemptEvent(SUCCESS, "c2", model_group="max-buddy-lp", tier="local", internal="cascade_draft")
    assert not resolve(draft, settings, {}).counts_request
    kept = AttemptEvent(SUCCESS, "c3", model_group="max-buddy-lp", tier="local")
    assert resolve(kept, settings, {}).counts_request
