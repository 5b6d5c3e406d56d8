"""What the router learns, as figures (counts only, never content): on /metrics and in /stats (the dashboard).

- labels collected, by source (feedback, reask, judge, file): the label list the router keeps in Redis
  (routing.yaml learning.labels_key), counted server-side by one Lua script (no label leaves Redis);
- the adapter `maximus route learn` stored (learning.adapter_key + ":meta", written by router.adapter.save): its
  age, the guard's verdict (used or refused), its label count and both held-back figures;
- cascade escalations: the requests the cascade moved to a strong tier, from the durable routing totals
  (route|<tier>|cascade, counted once per request by the consumer).
The keys come from the router's routing.yaml (tracker.settings: labels_key, adapter_meta_key)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracker.totals import SEP

SOURCES = ("feedback", "reask", "judge", "file")
VERDICTS = ("used", "refused")
CASCADE_REASON = "cascade"

# Counts each label's "source" where Redis keeps them (labels are stored as compact JSON: router.labels._encode).
COUNT_SOURCES_SCRIPT = """
local counts = {}
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local source = string.match(item, '"source":"([%w_]+)"') or 'other'
  counts[source] = (counts[source] or 0) + 1
end
local out = {}
for source, n in pairs(counts) do
  table.insert(out, source)
  table.insert(out, n)
end
return out
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def label_counts(reply: list[Any] | None) -> dict[str, int]:
    """The script's flat [source, n, ...] reply, every known source present; unknown ones under "other"."""
    counts = dict.fromkeys((*SOURCES, "other"), 0)
    items = list(reply or [])
    for source, n in zip(items[::2], items[1::2], strict=False):
        name = _text(source)
        counts[name if name in SOURCES else "other"] += int(n)
    return counts


def _number(value: Any) -> float | None:
    try:
        number = float(_text(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def adapter_summary(meta: Mapping[Any, Any] | None, now: float | None = None) -> dict[str, Any] | None:
    """The stored adapter's figures (None when there is none)."""
    fields = {_text(k): _text(v) for k, v in (meta or {}).items()}
    if not fields.get("id"):
        return None
    created = _number(fields.get("created"))
    now = time.time() if now is None else now
    return {
        "id": fields["id"],
        "verdict": "used" if fields.get("verdict") == "accepted" else "refused",
        "labels": int(_number(fields.get("labels")) or 0),
        "age_s": max(0.0, now - created) if created is not None else None,
        "shipped_apgr": _number(fields.get("shipped_apgr")),
        "adapted_apgr": _number(fields.get("adapted_apgr")),
    }


def cascade_escalations(totals: Mapping[str, float]) -> int:
    """Requests the cascade moved, from the durable totals route|<tier>|cascade."""
    total = 0.0
    for name, value in totals.items():
        parts = name.split(SEP)
        if len(parts) == 3 and parts[0] == "route" and parts[2] == CASCADE_REASON:
            total += value
    return int(total)


def figures(labels: dict[str, int], adapter: dict[str, Any] | None, totals: Mapping[str, float]) -> dict[str, Any]:
    """The /stats "learning" section."""
    return {"labels": labels, "adapter": adapter, "cascade_escalations": cascade_escalations(totals)}


def metrics(learned: Mapping[str, Any]) -> Iterator[Metric]:
    labels = GaugeMetricFamily(
        "maximus_labels", "Labels the router keeps from this installation's traffic, by source.", labels=["source"]
    )
    for source, n in learned["labels"].items():
        labels.add_metric([source], n)
    yield labels
    adapter = learned["adapter"]
    verdict = GaugeMetricFamily(
        "maximus_adapter_guard",
        "1 for the guard's verdict on the stored adapter (used: it ranked held-back labels at least as well as the "
        "shipped need model; refused: the shipped model decides); 0 for both without an adapter.",
        labels=["verdict"],
    )
    for name in VERDICTS:
        verdict.add_metric([name], 1.0 if adapter is not None and adapter["verdict"] == name else 0.0)
    yield verdict
    age = adapter["age_s"] if adapter is not None and adapter["age_s"] is not None else math.nan
    yield GaugeMetricFamily("maximus_adapter_age_seconds", "Seconds since the stored adapter was fitted.", value=age)
    yield GaugeMetricFamily(
        "maximus_adapter_labels", "Labels the stored adapter was fitted on.", value=adapter["labels"] if adapter else 0
    )
    apgr = GaugeMetricFamily(
        "maximus_adapter_heldback_apgr", "The guard's figures on held-back labels, by model.", labels=["model"]
    )
    for model in ("shipped", "adapted"):
        value = adapter.get(f"{model}_apgr") if adapter is not None else None
        apgr.add_metric([model], math.nan if value is None else value)
    yield apgr
    escalations = CounterMetricFamily(
        "maximus_cascade_escalations",
        "Requests the cascade moved to a strong tier (the local answer's confidence under the threshold).",
    )
    escalations.add_metric([], learned["cascade_escalations"])
    yield escalations
