"""Prometheus metrics. The counters of requests, tokens, cost, fallbacks, routing reasons, privacy pins and
attempts are the durable totals in Redis, read at scrape time: they survive any restart of the tracker, so
increase() over a run equals what was counted, exactly (in-process counters restart at zero, and a restarted
process that passes the last scraped value before the next scrape hides its restart from Prometheus). Only the
latency histogram and the consumer's own event counter stay in-process (rate() handles their restarts).

Every known label combination is exported at 0 until counted (series that appear with their first event are
invisible to rate() for that event).
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

from maximus_kernel.exception_text import describe
from tracker import learning, people
from tracker.accounting import Resolved
from tracker.events import APIS
from tracker.settings import Settings
from tracker.tiers import SOVEREIGN_TIERS, TIERS
from tracker.totals import (
    MONTH_SPEND_FIELD,
    RECENT_KEY,
    SEP,
    TOTALS_KEY,
    decode_hash,
    field,
    month_key,
    recent_share,
)

log = logging.getLogger("tracker.metrics")
disable_created_metrics()  # no *_created series: they double the exposition and nothing here reads them
OUTCOMES = ("success", "failure")
TOKEN_TYPES = ("input", "output")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

# Durable counters: field prefix in maximus:totals (tracker.totals) -> (metric name, help, label names).
DURABLE_COUNTERS = {
    "req": ("maximus_requests", "Requests counted once each, by the tier that answered.", ("tier", "model", "outcome")),
    "tok": ("maximus_tokens", "Tokens spent answering requests.", ("tier", "model", "type")),
    "cost": ("maximus_cost_usd", "Cost of answered requests in USD.", ("tier", "model")),
    "fb": ("maximus_fallbacks", "Requests answered by a fallback, by tier.", ("from_tier", "to_tier")),
    "route": ("maximus_route_decisions", "Routing decisions by tier and reason.", ("tier", "reason")),
    "pin": ("maximus_privacy_pins", "Requests pinned local by private data, by kind.", ("kind",)),
    "att": ("maximus_attempts", "Every attempt at a tier (fallen-back ones included).", ("tier", "outcome")),
    "api": (
        "maximus_api_requests",
        "Requests by API shape (chat, embeddings, ...) and answering tier.",
        ("api", "tier", "outcome"),
    ),
    "apitok": ("maximus_api_tokens", "Tokens of answered requests by API shape and tier.", ("api", "tier")),
}


def known_fields(settings: Settings, tier_map: Mapping[str, str]) -> list[str]:
    """The totals fields exported at 0 before their first count."""
    fields = []
    for model, tier in tier_map.items():
        fields += [field("req", tier, model, outcome) for outcome in OUTCOMES]
        fields += [field("tok", tier, model, kind) for kind in TOKEN_TYPES]
        fields.append(field("cost", tier, model))
    for tier in TIERS:
        fields += [field("att", tier, outcome) for outcome in OUTCOMES]
        fields += [field("fb", tier, to_tier) for to_tier in TIERS]
        fields += [field("route", tier, reason) for reason in settings.route_reasons]
    fields += [field("pin", kind) for kind in settings.privacy_kinds]
    for api in APIS:
        fields += [field("api", api, tier, outcome) for tier in TIERS for outcome in OUTCOMES]
        fields += [field("apitok", api, tier) for tier in TIERS]
    return fields


def durable_counters(totals: Mapping[str, float], known: list[str]) -> Iterator[CounterMetricFamily]:
    families = {
        prefix: CounterMetricFamily(name, documentation, labels=labels)
        for prefix, (name, documentation, labels) in DURABLE_COUNTERS.items()
    }
    values = dict.fromkeys(known, 0.0) | dict(totals)
    for name, value in sorted(values.items()):
        prefix, *labels = name.split(SEP)
        family = families.get(prefix)
        if family is not None and len(labels) == len(DURABLE_COUNTERS[prefix][2]):
            family.add_metric(labels, value)
    yield from families.values()


class TrackerMetrics:
    """What this process observes itself: latency and the consumer's results (durable counters: see above)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "maximus_request_duration_seconds",
            "Duration of the answering attempt.",
            ["tier"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "maximus_tracker_events", "Stream entries consumed, by result.", ["result"], registry=registry
        )
        for tier in TIERS:
            self.duration.labels(tier)
        for result in ("counted", "applied", "duplicate", "invalid"):
            self.events.labels(result)

    def observe_request(self, r: Resolved) -> None:
        if r.outcome == "success":
            self.duration.labels(r.tier).observe(r.event.latency_s)


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

    def __init__(self, client: redis.Redis, settings: Settings, tier_map: Mapping[str, str]) -> None:
        self.client = client
        self.settings = settings
        self.known = known_fields(settings, tier_map)
        self.learned: dict[str, Any] = {}

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (no Redis call at registration)

    def _read(self) -> tuple[dict[str, float], dict[str, float], float | None] | None:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(TOTALS_KEY)
            pipe.hgetall(month_key(time.time()))
            pipe.lrange(RECENT_KEY, 0, self.settings.sovereignty_window - 1)
            pipe.eval(learning.COUNT_SOURCES_SCRIPT, 1, self.settings.labels_key)
            pipe.hgetall(self.settings.adapter_meta_key)
            totals, month, recent, labels, adapter = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("durable totals unavailable: %s", describe(exc))
            return None
        totals = decode_hash(totals)
        self.learned = learning.figures(learning.label_counts(labels), learning.adapter_summary(adapter), totals)
        return totals, decode_hash(month), recent_share(recent)[0]

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
        totals, month, recent = read
        yield from durable_counters(totals, self.known)
        yield _gauge(
            "maximus_sovereignty_ratio", "Share of answers from sovereign tiers, all time.", sovereignty_ratio(totals)
        )
        yield _gauge(
            "maximus_sovereignty_ratio_recent",
            "Share of the last answers (routing.yaml sovereignty_online.window) from sovereign tiers: the live share "
            "the router steers toward the target.",
            math.nan if recent is None else recent,
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
        yield from people_metrics(totals, month, self.settings.user_labels)
        yield from learning.metrics(self.learned)


def people_metrics(totals: Mapping[str, float], month: Mapping[str, float], cap: int) -> Iterator[Metric]:
    """Per person, with the `user` label (key names only, at most `cap` of them; the rest under "other")."""
    rows = people.collect(totals, month)
    labels = people.labelled(list(rows), cap)
    requests = CounterMetricFamily(
        "maximus_user_requests", "Requests per person (key name) by answering tier.", labels=["user", "tier", "outcome"]
    )
    tokens = CounterMetricFamily("maximus_user_tokens", "Tokens per person.", labels=["user", "type"])
    cost = CounterMetricFamily("maximus_user_cost_usd", "Cost of answered requests per person, USD.", labels=["user"])
    spent = GaugeMetricFamily("maximus_user_budget_spent_usd", "Spend per person this month, USD.", labels=["user"])
    sums: dict[tuple[str, ...], float] = {}
    for name, row in rows.items():
        label = labels[name]
        for tier, cell in row["tiers"].items():
            for outcome, figure in (("success", "requests"), ("failure", "failures")):
                key = ("req", label, tier, outcome)
                sums[key] = sums.get(key, 0.0) + cell[figure]
            for kind in TOKEN_TYPES:
                sums[("tok", label, kind)] = sums.get(("tok", label, kind), 0.0) + cell[f"{kind}_tokens"]
            sums[("cost", label)] = sums.get(("cost", label), 0.0) + cell["cost_usd"]
        sums[("spent", label)] = sums.get(("spent", label), 0.0) + row["month"]["cost_usd"]
    families = {"req": requests, "tok": tokens, "cost": cost, "spent": spent}
    for (kind, *values), value in sorted(sums.items()):
        families[kind].add_metric(values, value)
    yield from families.values()


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
