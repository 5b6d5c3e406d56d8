"""GET /stats: the durable figures as JSON (the terminal dashboard reads this); GET /stats?user=NAME: one
person's (tracker.people)."""

from __future__ import annotations

import math
import time
from typing import Any

import redis.asyncio as aioredis

from maximus_kernel.team_keys import KEYS_KEY, NAMES_KEY, KeyRecord
from tracker import learning, people
from tracker.metrics import sovereignty_ratio
from tracker.settings import Settings
from tracker.tiers import SOVEREIGN_TIERS, TIERS
from tracker.totals import RECENT_KEY, SEP, TOTALS_KEY, decode_hash, last_hour_keys, month_key, recent_share


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _tiers(totals: dict[str, float]) -> dict[str, dict[str, Any]]:
    tiers = {
        t: {
            "sovereign": t in SOVEREIGN_TIERS,
            "requests": 0,
            "failures": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "attempt_failures": 0,
        }
        for t in TIERS
    }
    for name, value in totals.items():
        parts = name.split(SEP)
        if len(parts) < 2 or parts[1] not in tiers:
            continue
        row = tiers[parts[1]]
        if parts[0] == "req" and len(parts) == 4:
            row["requests" if parts[3] == "success" else "failures"] += int(value)
        elif parts[0] == "tok" and len(parts) == 4:
            row[f"{parts[3]}_tokens"] += int(value)
        elif parts[0] == "cost":
            row["cost_usd"] += value
        elif parts[0] == "att" and parts[2] == "failure":
            row["attempt_failures"] += int(value)
    return tiers


def _apis(totals: dict[str, float]) -> dict[str, dict[str, int]]:
    """Per API shape (chat, embeddings, ...): answered and failed requests, those answered on the machine, tokens."""
    apis: dict[str, dict[str, int]] = {}
    for name, value in totals.items():
        parts = name.split(SEP)
        if parts[0] not in ("api", "apitok") or len(parts) < 3:
            continue
        row = apis.setdefault(parts[1], {"requests": 0, "failures": 0, "sovereign": 0, "tokens": 0})
        if parts[0] == "apitok":
            row["tokens"] += int(value)
        elif len(parts) == 4 and parts[3] == "success":
            row["requests"] += int(value)
            row["sovereign"] += int(value) if parts[2] in SOVEREIGN_TIERS else 0
        elif len(parts) == 4:
            row["failures"] += int(value)
    return apis


def _labelled(totals: dict[str, float], prefix: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in totals.items():
        parts = name.split(SEP)
        if parts[0] == prefix:
            key = "->".join(parts[1:]) if prefix == "fb" else ":".join(parts[1:])
            out[key] = out.get(key, 0) + int(value)
    return out


async def build_stats(client: aioredis.Redis, settings: Settings, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(TOTALS_KEY)
    pipe.hgetall(month_key(now))
    hour_keys = last_hour_keys(24, now)
    pipe.lrange(RECENT_KEY, 0, settings.sovereignty_window - 1)
    pipe.eval(learning.COUNT_SOURCES_SCRIPT, 1, settings.labels_key)
    pipe.hgetall(settings.adapter_meta_key)
    for key in hour_keys:
        pipe.hgetall(key)
    raw = await pipe.execute()
    totals, month, hours = decode_hash(raw[0]), decode_hash(raw[1]), [decode_hash(h) for h in raw[5:]]
    learned = learning.figures(learning.label_counts(raw[3]), learning.adapter_summary(raw[4], now), totals)
    recent, recent_answers = recent_share(raw[2])
    tiers = _tiers(totals)
    answered = sum(row["requests"] for row in tiers.values())
    all_time = sovereignty_ratio(totals)
    spent = month.get("cost_usd", 0.0)
    return {
        "tiers": tiers,
        "requests": answered,
        "failures": sum(row["failures"] for row in tiers.values()),
        "sovereignty_ratio": {
            "all_time": None if math.isnan(all_time) else all_time,
            "last_24h": _ratio(sum(h.get("sovereign", 0) for h in hours), sum(h.get("answered", 0) for h in hours)),
            "this_hour": _ratio(hours[0].get("sovereign", 0), hours[0].get("answered", 0)),
            "recent": recent,  # the live share: the last answers, the window the router steers on
            "recent_answers": recent_answers,
            "target": settings.sovereignty_target,
        },
        "tokens": {
            "input": sum(r["input_tokens"] for r in tiers.values()),
            "output": sum(r["output_tokens"] for r in tiers.values()),
        },
        "cost_usd": sum(r["cost_usd"] for r in tiers.values()),
        "budget": {
            "month": month_key(now).rsplit(":", 1)[1],
            "spent_usd": spent,
            "limit_usd": settings.budget_usd,
            "used": _ratio(spent, settings.budget_usd),
        },
        "saved_usd": {
            "all_time": totals.get("saved_usd", 0.0),
            "month": month.get("saved_usd", 0.0),
            "cloud_subscription_usd_month": settings.subscription_usd_month,
        },
        "apis": _apis(totals),
        "fallbacks": _labelled(totals, "fb"),
        "route_decisions": _labelled(totals, "route"),
        "privacy_pins": _labelled(totals, "pin"),
        "people": {name: _person_row(row) for name, row in sorted(people.collect(totals, month).items())},
        "learning": learned,
    }


def _person_row(row: dict[str, Any]) -> dict[str, Any]:
    figures = people.summary(row)
    return {
        "requests": figures["requests"],
        "failures": figures["failures"],
        "tokens": figures["tokens"],
        "cost_usd": figures["cost_usd"],
        "sovereignty_ratio": figures["sovereignty_ratio"]["all_time"],
        "month_spent_usd": figures["month"]["spent_usd"],
    }


class UnknownPerson(LookupError):
    """Nobody of that name was counted, nor has a key."""


async def build_user_stats(client: aioredis.Redis, settings: Settings, user: str, now: float | None = None) -> dict:
    """One person's figures with their key's monthly budget (None: only the team's applies)."""
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(TOTALS_KEY)
    pipe.hgetall(month_key(now))
    pipe.hget(NAMES_KEY, user)
    totals, month, key_id = await pipe.execute()
    row = people.collect(decode_hash(totals), decode_hash(month)).get(user)
    raw = await client.hget(KEYS_KEY, key_id) if key_id is not None else None
    if row is None and raw is None:
        raise UnknownPerson(user)
    figures = people.summary(row or people.empty_row())
    limit = KeyRecord.from_json(raw).budget_usd if raw is not None else None
    spent = figures["month"]["spent_usd"]
    figures["budget"] = {
        "month": month_key(now).rsplit(":", 1)[1],
        "spent_usd": spent,
        "limit_usd": limit,
        "used": _ratio(spent, limit) if limit else None,
    }
    figures["sovereignty_ratio"]["target"] = settings.sovereignty_target
    return {"user": user, "has_key": raw is not None, **figures}
