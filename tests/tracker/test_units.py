"""Pure pieces: the event schema, the callback's mapping of LiteLLM kwargs, settings, spool, readers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.support.processes import REPO
from tests.tracker.conftest import TEST_TRACKER_CONFIG, RedisProcess
from tests.tracker.shapes import attempt_kwargs, refused_request_data, request_data
from tracker.accounting import increments, reason_label, resolve
from tracker.audit import AuditLog
from tracker.events import FAILURE, REQUEST_FAILED, SUCCESS, AttemptEvent, InvalidEvent
from tracker.litellm_callback import TierLookup, build_attempt_event, build_request_failed_event
from tracker.publisher import EventPublisher
from tracker.settings import load_settings
from tracker.spool import Spool
from tracker.tiers import tier_map_from_config
from tracker.totals import amonth_to_date_spend, month_key, month_to_date_spend


class FixedTiers(TierLookup):
    def __init__(self, groups: dict[str, str]) -> None:
        super().__init__()
        self._groups, self._loaded_at = groups, float("inf")


TIERS = FixedTiers({"max-buddy": "local", "max-flaky": "power", "max-dead": "cloud"})


def test_event_round_trip_and_validation() -> None:
    event = AttemptEvent(kind=SUCCESS, call_id="c1", model_group="max-buddy", tier="local", prompt_tokens=3)
    assert AttemptEvent.from_fields(event.to_fields()) == event
    assert AttemptEvent.from_fields({b"e": event.to_json().encode()}) == event
    for bad in (
        {"kind": "nope", "call_id": "x"},
        {"kind": SUCCESS, "call_id": ""},
        {"kind": SUCCESS, "call_id": "x", "prompt_tokens": -1},
        ["not", "an", "object"],
    ):
        with pytest.raises(InvalidEvent):
            AttemptEvent.from_dict(bad)
    with pytest.raises(InvalidEvent):
        AttemptEvent.from_fields({"other": "field"})


def test_success_after_fallback_maps_from_litellm_kwargs() -> None:
    kwargs = attempt_kwargs(
        "call-9",
        "max-buddy",
        "local",
        stream=True,
        fallback_from="max-flaky",
        routed_tier="power",
        reasons=["code"],
        privacy=["email"],
        latency=0.25,
    )
    event = build_attempt_event(SUCCESS, kwargs, TIERS)
    assert (event.call_id, event.kind, event.tier, event.model_group, event.stream) == (
        "call-9",
        SUCCESS,
        "local",
        "max-buddy",
        True,
    )
    assert (event.fallback_from_group, event.fallback_from_tier, event.routed_tier) == ("max-flaky", "power", "power")
    assert (event.prompt_tokens, event.completion_tokens, event.route_reasons, event.privacy_kinds) == (
        11,
        5,
        ["code"],
        ["email"],
    )
    assert event.latency_s == pytest.approx(0.25)
    assert "PROMPT" not in event.to_json()


def test_failure_and_request_failed_events_carry_no_text() -> None:
    failed = build_attempt_event(FAILURE, attempt_kwargs("c2", "max-dead", "cloud", status="failure"), TIERS)
    assert (failed.kind, failed.tier, failed.error_type, failed.fallback_from_group) == (
        FAILURE,
        "cloud",
        "ServiceUnavailableError",
        None,
    )
    final = build_request_failed_event(request_data("c2", "max-dead", "cloud"), RuntimeError("secret text"), TIERS)
    assert (final.kind, final.tier, final.error_type) == (REQUEST_FAILED, "cloud", "RuntimeError")
    assert "secret" not in final.to_json()
    assert build_attempt_event(SUCCESS, {"standard_logging_object": {}}, TIERS) is None


def test_request_failed_event_carries_the_routers_clean_failure_code() -> None:
    data = request_data("c4", "max-buddy", "local")
    data["metadata"]["maximus_error"] = "local_tier_unreachable"  # set by router.litellm_hook before us
    final = build_request_failed_event(data, ConnectionError("Cannot connect to host"), TIERS)
    assert (final.tier, final.error_type) == ("local", "local_tier_unreachable")


def test_tier_comes_from_the_group_when_model_info_lacks_it() -> None:
    kwargs = attempt_kwargs("c3", "max-flaky", "power")
    kwargs["litellm_params"]["metadata"]["model_info"] = {}
    assert build_attempt_event(SUCCESS, kwargs, TIERS).tier == "power"


def test_tier_map_uses_sovereign_tier_only() -> None:
    config = {
        "model_list": [
            {"model_name": "a", "model_info": {"sovereign_tier": "local"}},
            {"model_name": "b", "model_info": {"tier": "local"}},  # LiteLLM's reserved key: ignored
            {"model_name": "c", "model_info": {"sovereign_tier": "moon"}},
        ]
    }
    assert tier_map_from_config(config) == {"a": "local"}


def test_accounting_counts_requests_once_and_attempts_always() -> None:
    settings = load_settings(TEST_TRACKER_CONFIG, env={})
    fallback = build_attempt_event(SUCCESS, attempt_kwargs("c", "max-buddy", "local", fallback_from="max-flaky"), TIERS)
    inc = increments(resolve(fallback, settings, {}))
    assert inc.totals["fb|power|local"] == 1 and inc.totals["req|local|max-buddy|success"] == 1
    assert inc.event == {"att|local|success": 1}
    assert inc.hour == {"answered": 1, "sovereign": 1}
    failure = build_attempt_event(FAILURE, attempt_kwargs("c", "max-flaky", "power", status="failure"), TIERS)
    inc = increments(resolve(failure, settings, {}))
    assert not inc.totals and inc.event == {"att|power|failure": 1}
    odd = AttemptEvent(kind=SUCCESS, call_id="x", model_group="g", tier="local", route_reasons=["made-up"])
    assert increments(resolve(odd, settings, {})).totals["route|local|other"] == 1  # bounded label values


def test_budget_env_override_and_prices() -> None:
    assert load_settings(TEST_TRACKER_CONFIG, env={}).budget_usd == 1.0
    settings = load_settings(TEST_TRACKER_CONFIG, env={"MAXIMUS_BUDGET_USD": "42.5"})
    assert settings.budget_usd == 42.5
    assert settings.prices["max-cloud"].cost(1_000_000, 0) == 1000.0
    assert "other" in settings.route_reasons


def test_spool_claims_replays_and_skips_torn_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    events = [AttemptEvent(kind=SUCCESS, call_id=f"c{i}") for i in range(3)]
    spool.append(events)
    with spool.path.open("a") as handle:
        handle.write('{"kind": "success", "call_')  # a crash while writing
    (tmp_path / "spool-999999999.jsonl").write_text(events[0].to_json() + "\n")  # a writer that is gone
    assert spool.has_pending()
    claimed = spool.claim()
    assert len(claimed) == 2 and all(p.name.startswith(f"replay-{os.getpid()}-") for p in claimed)
    read = [e for p in claimed for e in spool.read(p)]
    assert sorted(e.call_id for e in read) == ["c0", "c0", "c1", "c2"]
    for path in claimed:
        spool.done(path)
    assert not spool.has_pending()


async def test_publish_never_waits_and_spools_when_redis_is_absent(tmp_path: Path) -> None:
    publisher = EventPublisher("redis://127.0.0.1:1/0", "s", tmp_path, queue_size=2, retry_interval_s=0.1)
    for i in range(5):  # the queue holds 2: the rest goes straight to the spool file
        publisher.publish(AttemptEvent(kind=SUCCESS, call_id=f"c{i}"))
    await asyncio.sleep(0.3)
    await publisher.close()
    lines = [json.loads(line) for p in tmp_path.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert sorted(line["call_id"] for line in lines) == [f"c{i}" for i in range(5)]


async def test_close_during_a_batch_redis_never_answers_spools_it(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)  # takes the command, never replies
        await asyncio.sleep(3600)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    publisher = EventPublisher(f"redis://127.0.0.1:{port}/0", "s", tmp_path, retry_interval_s=0.05)
    try:
        publisher.publish(AttemptEvent(kind=SUCCESS, call_id="stuck"))
        await asyncio.sleep(0.3)  # the batch is in flight, waiting on the silent server
        await asyncio.wait_for(publisher.close(), timeout=10)
    finally:
        server.close()
    lines = [json.loads(line) for p in tmp_path.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert [line["call_id"] for line in lines] == ["stuck"]


def test_month_to_date_spend_readers(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        assert month_to_date_spend(client) == 0.0
        client.hset(month_key(), "cost_usd", "3.25")
        assert month_to_date_spend(client) == 3.25
        import redis.asyncio as aioredis

        async def read() -> float:
            async_client = aioredis.Redis.from_url(server.url)
            try:
                return await amonth_to_date_spend(async_client)
            finally:
                await async_client.aclose()

        assert asyncio.run(read()) == 3.25
        assert month_key(0) == "maximus:month:1970-01"
        client.close()
    finally:
        server.stop()


def test_totals_reader_needs_no_litellm() -> None:
    code = "import sys, tracker.totals; sys.exit('litellm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0


def test_committed_dashboard_matches_the_generator() -> None:
    pytest.importorskip("grafana_foundation_sdk")
    script = REPO / "grafana" / "generate_dashboard.py"
    assert subprocess.run([sys.executable, str(script), "--check"], timeout=60).returncode == 0


def test_route_reason_labels_come_from_the_router_sentences() -> None:
    assert reason_label("privacy: secret, personal_data (detect-secrets) kept local, fallbacks disabled") == "privacy"
    assert reason_label("classifier: power (0.91)") == "classifier"
    assert reason_label("code") == "code"  # the router's short codes pass through
    assert reason_label("power tier cooling down: skipped to local") == "skipped"
    assert reason_label("budget warning: 85% of the $20.00 cap spent") == "budget"
    assert reason_label("vision: image content") == "vision"
    assert reason_label("  ") == "other"


def test_audit_log_rotates_and_keeps_backups(tmp_path: Path) -> None:
    settings = load_settings(TEST_TRACKER_CONFIG, env={})
    audit = AuditLog(tmp_path, max_bytes=2000, backups=2)
    for i in range(60):
        event = AttemptEvent(kind=SUCCESS, call_id=f"call-{i}", model_group="max-buddy", tier="local")
        audit.add(resolve(event, settings, {}))
        audit.flush()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    newest = [json.loads(line)["call_id"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert newest[-1] == "call-59" and all(p.stat().st_size < 2400 for p in tmp_path.iterdir())


def test_budget_reads_either_environment_name() -> None:
    assert load_settings(TEST_TRACKER_CONFIG, env={"MAXIMUS_MONTHLY_BUDGET_USD": "7"}).budget_usd == 7.0
    assert load_settings(TEST_TRACKER_CONFIG, env={"MAXIMUS_BUDGET_USD": "0"}).budget_usd == 0.0


def test_a_vision_phrasing_sub_request_is_an_attempt_not_a_request() -> None:
    settings = load_settings(TEST_TRACKER_CONFIG, env={})
    tag = {"maximus_internal": "vision_phrase", "maximus_parent": "chatcmpl-parent"}
    event = build_attempt_event(SUCCESS, attempt_kwargs("sub", "max-buddy", "local", metadata=tag), TIERS)
    assert (event.internal, event.parent_id) == ("vision_phrase", "chatcmpl-parent")
    assert AttemptEvent.from_json(event.to_json()) == event
    r = resolve(event, settings, {})
    assert not r.counts_request and r.outcome is None
    inc = increments(r)
    assert not inc.totals and not inc.month and not inc.hour  # no request, no answer: the ratio is untouched
    assert inc.event == {  # an attempt at the local tier, whose tokens were spent
        "att|local|success": 1,
        "tok|local|max-buddy|input": 11,
        "tok|local|max-buddy|output": 5,
        "cost|local|max-buddy": 0.0,
    }
    failed = build_attempt_event(
        FAILURE, attempt_kwargs("sub", "max-buddy", "local", status="failure", metadata=tag), TIERS
    )
    assert increments(resolve(failed, settings, {})).event == {"att|local|failure": 1}
    final = request_data("sub", "max-buddy", "local")
    final["metadata"].update(tag)
    inc = increments(resolve(build_request_failed_event(final, RuntimeError("x"), TIERS), settings, {}))
    assert not inc.totals and not inc.month and not inc.event


def test_the_internal_tag_never_hides_a_cloud_request() -> None:
    settings = load_settings(TEST_TRACKER_CONFIG, env={})
    kwargs = attempt_kwargs("c", "max-dead", "cloud", metadata={"maximus_internal": "vision_phrase"})
    r = resolve(build_attempt_event(SUCCESS, kwargs, TIERS), settings, {})
    assert r.counts_request and r.internal is None
    assert increments(r).totals["req|cloud|max-dead|success"] == 1


def test_a_request_refused_for_private_data_counts_in_the_pinned_tier() -> None:
    data = refused_request_data("r1", "max-dead", ["secret"])  # max-dead is a cloud group
    event = build_request_failed_event(data, RuntimeError("refused"), TIERS)
    assert (event.kind, event.tier, event.routed_tier, event.model_group) == (
        REQUEST_FAILED,
        "local",
        "local",
        "max-dead",
    )
    inc = increments(resolve(event, load_settings(TEST_TRACKER_CONFIG, env={}), {}))
    assert inc.totals["req|local|max-dead|failure"] == 1 and inc.totals["pin|secret"] == 1
    assert not any(name.startswith("req|cloud|") for name in inc.totals)
    unpinned = request_data("r2", "max-dead", "cloud")  # a cloud failure is still the cloud tier's
    assert build_request_failed_event(unpinned, RuntimeError("x"), TIERS).tier == "cloud"


def test_redis_url_order_and_default_match_the_router() -> None:
    from router.budget import DEFAULT_REDIS_URL

    shipped = load_settings(env={})  # tracker/tracker.yaml
    assert shipped.redis_url == DEFAULT_REDIS_URL == "redis://127.0.0.1:6379/0"
    redis_env = {"REDIS_URL": "redis://shared:6379/0"}
    assert load_settings(env=redis_env).redis_url == "redis://shared:6379/0"
    both = {**redis_env, "MAXIMUS_REDIS_URL": "redis://maximus:6379/2"}
    assert load_settings(env=both).redis_url == "redis://maximus:6379/2"  # MAXIMUS_REDIS_URL first, as the router
    assert load_settings(env={**redis_env, "MAXIMUS_REDIS_URL": ""}).redis_url == "redis://shared:6379/0"
    assert load_settings(env={"REDIS_URL": ""}).redis_url == DEFAULT_REDIS_URL  # empty means unset


def test_route_score_travels_from_the_router_metadata_to_the_event_and_the_audit() -> None:
    kwargs = attempt_kwargs("c-score", "max-genius", "power", metadata={"maximus_route_score": 0.8125})
    event = build_attempt_event(SUCCESS, kwargs, TIERS)
    assert event.route_score == 0.8125
    assert AttemptEvent.from_json(event.to_json()).route_score == 0.8125
    for odd in (None, "0.9", True, 1.5, -0.1):
        kwargs = attempt_kwargs("c-odd", "max-buddy", "local", metadata={"maximus_route_score": odd})
        assert build_attempt_event(SUCCESS, kwargs, TIERS).route_score is None
    for bad in (2.0, "high", True):
        with pytest.raises(InvalidEvent, match="route_score"):
            AttemptEvent.from_dict({"kind": SUCCESS, "call_id": "x", "route_score": bad})
    final = build_request_failed_event(
        {**request_data("c-f", "max-genius", "power"), "metadata": {"maximus_route_score": 0.5}}, RuntimeError(), TIERS
    )
    assert final.route_score == 0.5
    line = json.loads(AuditLog.line(resolve(event, load_settings(TEST_TRACKER_CONFIG), {})))
    assert line["route_score"] == 0.8125


def test_sovereignty_target_is_the_routers_and_is_exported() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from router.config import load_config
    from tests.support.stack import closed_port_url
    from tracker.metrics import DurableTotalsCollector

    settings = load_settings()
    assert settings.sovereignty_target == load_config().sovereignty_target
    registry = CollectorRegistry()
    unreachable = redis.Redis.from_url(closed_port_url("/0").replace("http://", "redis://"), socket_timeout=0.2)
    registry.register(DurableTotalsCollector(unreachable, settings, {}))
    assert b"maximus_sovereignty_target 0.9" in generate_latest(registry)  # also while Redis is down


def test_the_tracker_follows_a_changed_router_target(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("sovereignty_target: 0.75\nsovereignty_online:\n  window: 40\n", encoding="utf-8")
    followed = load_settings(env={"MAXIMUS_ROUTING_CONFIG": str(routing)})
    assert (followed.sovereignty_target, followed.sovereignty_window) == (0.75, 40)
    # In a container the routing file sits beside the LiteLLM config that names the tiers.
    (tmp_path / "config.yaml").write_text("model_list: []\n", encoding="utf-8")
    assert load_settings(env={"MAXIMUS_LITELLM_CONFIG": str(tmp_path / "config.yaml")}).sovereignty_target == 0.75
    assert load_settings(env={"MAXIMUS_ROUTING_CONFIG": str(tmp_path / "absent.yaml")}).sovereignty_target == 0.9


def test_dashboard_shows_the_live_share_against_the_target() -> None:
    from rich.console import Console

    from tracker.dashboard import summary

    stats = {
        "sovereignty_ratio": {
            "all_time": 0.91,
            "last_24h": 0.9,
            "this_hour": 0.84,
            "recent": 0.875,
            "recent_answers": 400,
            "target": 0.9,
        },
        "budget": {"month": "2026-12", "spent_usd": 1.0, "limit_usd": 20.0, "used": 0.05},
        "saved_usd": {"month": 2.0, "all_time": 3.0, "cloud_subscription_usd_month": 20.0},
        "fallbacks": {},
        "privacy_pins": {},
    }
    console = Console(record=True, width=160)
    console.print(summary(stats))
    text = console.export_text()
    assert "live (last 400 answers) 87.5% against the target 90.0%   this hour 84.0%" in text


def test_the_router_steers_on_the_list_the_tracker_writes() -> None:
    from router.config import OnlineConfig, load_config
    from tracker.totals import RECENT_KEY

    shipped = load_config().online
    assert OnlineConfig().tracker_key == shipped.tracker_key == RECENT_KEY
    assert load_settings().sovereignty_window == shipped.window  # one window for the gauge and the controller
