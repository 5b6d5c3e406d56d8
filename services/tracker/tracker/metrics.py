"""Prometheus metrics: in-process counters for what this process consumed (rate() handles restarts),
and a collector that reads the durable totals from Redis at scrape time for the all-time figures.

Every known label combination is created at 0 when the tracker starts (series that appear with their
first event are invisible to rate() for that event).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tracker.accounting import Resolved
from tracker.settings import Settings
from tracker.tiers import SOVEREIGN_TIERS, TIERS
from tracker.totals import MONTH_SPEND_FIELD, SEP, TOTALS_KEY, decode_hash, month_key

log = logging.getLogger("tracker.metrics")
disable_created_metrics()  # no *_created series: they double the exposition and nothing here reads them
OUTCOMES = ("success", "failure")
TOKEN_TYPES = ("input", "output")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class TrackerMetrics:
    def __init__(self, registry: CollectorRegistry, settings: Settings, tier_map: Mapping[str, str]) -> None:
        self.requests = Counter(
            "maximus_requests",
            "Requests counted once each, by the tier that answered.",
            ["tier", "model", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "maximus_tokens", "Tokens spent answering requests.", ["tier", "model", "type"], registry=registry
        )
        self.cost = Counter(
            "maximus_cost_usd", "Cost of answered requests in USD.", ["tier", "model"], registry=registry
        )
        self.duration = Histogram(
            "maximus_request_duration_seconds",
            "Duration of the answering attempt.",
            ["tier"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.fallbacks = Counter(
            "maximus_fallbacks",
            "Requests answered by a fallback, by tier.",
            ["from_tier", "to_tier"],
            registry=registry,
        )
        self.route_decisions = Counter(
            "maximus_route_decisions", "Routing decisions by tier and reason.", ["tier", "reason"], registry=registry
        )
        self.privacy_pins = Counter(
            "maximus_privacy_pins", "Requests pinned local by private data, by kind.", ["kind"], registry=registry
        )
        self.attempts = Counter(
            "maximus_attempts",
            "Every attempt at a tier (fallen-back ones included).",
            ["tier", "outcome"],
            registry=registry,
        )
        self.events = Counter(
            "maximus_tracker_events", "Stream entries consumed, by result.", ["result"], registry=registry
        )
        self._create_known(settings, tier_map)

    def _create_known(self, settings: Settings, tier_map: Mapping[str, str]) -> None:
        for model, tier in tier_map.items():
            for outcome in OUTCOMES:
                self.requests.labels(tier, model, outcome)
            for kind in TOKEN_TYPES:
                self.tokens.labels(tier, model, kind)
            self.cost.labels(tier, model)
        for tier in TIERS:
            self.duration.labels(tier)
            for outcome in OUTCOMES:
                self.attempts.labels(tier, outcome)
            for to_tier in TIERS:
                self.fallbacks.labels(tier, to_tier)
            for reason in settings.route_reasons:
                self.route_decisions.labels(tier, reason)
        for kind in settings.privacy_kinds:
            self.privacy_pins.labels(kind)
        for result in ("counted", "applied", "duplicate", "invalid"):
            self.events.labels(result)

    def observe_attempt(self, r: Resolved) -> None:
        if r.tier is not None and r.event.kind in ("success", "failure"):
            self.attempts.labels(r.tier, "success" if r.event.kind == "success" else "failure").inc()
        if r.internal and r.tier is not None and r.event.kind == "success":  # a sub-request: tokens, no request
            self.tokens.labels(r.tier, r.event.model_group, "input").inc(r.event.prompt_tokens)
            self.tokens.labels(r.tier, r.event.model_group, "output").inc(r.event.completion_tokens)
            self.cost.labels(r.tier, r.event.model_group).inc(r.cost_usd)

    def observe_request(self, r: Resolved) -> None:
        event, tier = r.event, r.tier
        self.requests.labels(tier, event.model_group, r.outcome).inc()
        if r.outcome == "success":
            self.tokens.labels(tier, event.model_group, "input").inc(event.prompt_tokens)
            self.tokens.labels(tier, event.model_group, "output").inc(event.completion_tokens)
            self.cost.labels(tier, event.model_group).inc(r.cost_usd)
            self.duration.labels(tier).observe(event.latency_s)
            if r.fallback_from_tier:
                self.fallbacks.labels(r.fallback_from_tier, tier).inc()
        for reason in r.reasons:
            self.route_decisions.labels(r.decision_tier or tier, reason).inc()
        for kind in r.privacy_kinds:
            self.privacy_pins.labels(kind).inc()


def sovereignty_ratio(totals: Mapping[str, float]) -> float:
    """Sovereign answers / all answers, all time (NaN before the first answer)."""
    answered = sovereign = 0.0
    for name, value in totals.items():
        parts = name.split(SEP)
        if parts[0] == "req" and len(parts) == 4 and parts[3] == "success":
            answered += value
            sovereign += value if parts[1] in SOVEREIGN_TIERS else 0.0
    return sovereign / answered if answered else math.nan


class DurableTotalsCollector(Collector):
    """Reads the durable totals at scrape time; reports maximus_tracker_redis_up 0 when Redis is away."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (no Redis call at registration)

    def _read(self) -> tuple[dict[str, float], dict[str, float]] | None:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(TOTALS_KEY)
            pipe.hgetall(month_key(time.time()))
            totals, month = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("durable totals unavailable: %s", type(exc).__name__)
            return None
        return decode_hash(totals), decode_hash(month)

    def collect(self) -> Iterator[Metric]:
        read = self._read()
        yield _gauge("maximus_tracker_redis_up", "1 when the durable totals could be read.", 0 if read is None else 1)
        yield _gauge("maximus_budget_limit_usd", "Monthly cloud budget in USD.", self.settings.budget_usd)
        yield _gauge(
            "maximus_cloud_subscription_usd",
            "Flat cloud subscription per month in USD (reference).",
            self.settings.subscription_usd_month,
        )
        yield _gauge(
            "maximus_sovereignty_target",
            "Share of requests the router keeps on the machine (routing.yaml sovereignty_target).",
            self.settings.sovereignty_target,
        )
        if read is None:
            return
        totals, month = read
        yield _gauge(
            "maximus_sovereignty_ratio", "Share of answers from sovereign tiers, all time.", sovereignty_ratio(totals)
        )
        yield _gauge(
            "maximus_budget_spent_usd", "Spend this calendar month (UTC) in USD.", month.get(MONTH_SPEND_FIELD, 0.0)
        )
        yield _gauge(
            "maximus_saved_month_usd",
            "Saved this calendar month at the cloud reference price, USD.",
            month.get("saved_usd", 0.0),
        )
        saved = CounterMetricFamily(
            "maximus_saved_usd", "What sovereign answers would have cost at the cloud reference price, all time, USD."
        )
        saved.add_metric([], totals.get("saved_usd", 0.0))
        yield saved


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
