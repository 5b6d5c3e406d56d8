"""Per-person figures from the durable totals (fields user|<name>|... written by tracker.accounting): requests
per tier, tokens, cost, the sovereignty ratio and the month's spend, per key name (never the key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maximus_kernel.team_keys import OTHER_NAME
from tracker.tiers import SOVEREIGN_TIERS, TIERS


def empty_row() -> dict[str, Any]:
    cell = {"requests": 0, "failures": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    return {
        "tiers": {tier: {**cell, "sovereign": tier in SOVEREIGN_TIERS} for tier in TIERS},
        "month": {"cost_usd": 0.0, "requests": 0, "sovereign": 0, "failed": 0},
    }


def _add_total(row: dict[str, Any], parts: list[str], value: float) -> None:
    kind, tier = parts[0], parts[1] if len(parts) > 1 else None
    cell = row["tiers"].get(tier)
    if cell is None:
        return
    if kind == "req" and len(parts) == 3:
        cell["requests" if parts[2] == "success" else "failures"] += int(value)
    elif kind == "tok" and len(parts) == 3 and parts[2] in ("input", "output"):
        cell[f"{parts[2]}_tokens"] += int(value)
    elif kind == "cost":
        cell["cost_usd"] += value


def collect(totals: Mapping[str, float], month: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """name -> {"tiers": {tier: {...}}, "month": {...}} for everyone counted so far."""
    people: dict[str, dict[str, Any]] = {}
    for source, is_month in ((totals, False), (month, True)):
        for name, value in source.items():
            parts = name.split("|")
            if len(parts) < 3 or parts[0] != "user":
                continue
            row = people.setdefault(parts[1], empty_row())
            if is_month:
                if parts[2] in row["month"]:
                    row["month"][parts[2]] += value
            else:
                _add_total(row, parts[2:], value)
    return people


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """One person's figures as /stats shows them."""
    tiers = row["tiers"]
    answered = sum(cell["requests"] for cell in tiers.values())
    sovereign = sum(cell["requests"] for tier, cell in tiers.items() if tier in SOVEREIGN_TIERS)
    month = row["month"]
    return {
        "tiers": tiers,
        "requests": answered,
        "failures": sum(cell["failures"] for cell in tiers.values()),
        "tokens": {
            "input": sum(cell["input_tokens"] for cell in tiers.values()),
            "output": sum(cell["output_tokens"] for cell in tiers.values()),
        },
        "cost_usd": sum(cell["cost_usd"] for cell in tiers.values()),
        "sovereignty_ratio": {
            "all_time": sovereign / answered if answered else None,
            "month": month["sovereign"] / month["requests"] if month["requests"] else None,
        },
        "month": {"spent_usd": month["cost_usd"], "requests": int(month["requests"]), "failed": int(month["failed"])},
    }


def labelled(names: list[str], cap: int) -> dict[str, str]:
    """name -> Prometheus label: the first `cap` names in order keep theirs, the rest are "other" (bounded
    cardinality; alphabetical, so a name keeps its label while no name before it is added past the cap)."""
    ordered = sorted(names)
    return {name: name if index < cap else OTHER_NAME for index, name in enumerate(ordered)}
