"""`maximus route calibrate`: the need threshold that keeps `sovereignty_target` of a sample of requests local.

Reads request bodies (one JSON object a line, or development-set case objects) from a file or standard input,
routes each with the offline policy, and writes need.threshold into routing.yaml (or only prints it)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.health import ALL_UP
from router.policy import RoutingPolicy
from router.request import MalformedRequest, check_request
from router.sovereignty import Outcome, threshold_for

SOVEREIGN = ("local", "vision")
NO_ESCALATION = 2.0  # a threshold no score reaches: every scored request shows as scored, none escalates


@dataclass(frozen=True)
class Calibration:
    threshold: float
    target: float
    requests: int
    scored: int
    skipped: int  # lines that are not a routable request

    def as_output(self) -> dict[str, Any]:
        return {
            "threshold": round(self.threshold, 4),
            "sovereignty_target": self.target,
            "requests": self.requests,
            "scored": self.scored,
            "skipped_lines": self.skipped,
        }


def _body(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("request"), dict):
        value = value["request"]
    if not isinstance(value, dict):
        return None
    try:
        check_request(value, chat="prompt" not in value and "input" not in value)
    except MalformedRequest:
        return None
    return value


def outcomes(policy: RoutingPolicy, bodies: Iterable[dict[str, Any]]) -> list[Outcome]:
    """Each request as the threshold sees it: scored (its need score decides) or forced (as it went)."""
    found = []
    for body in bodies:
        headers = body.get("headers") if isinstance(body.get("headers"), dict) else None
        decision = policy.decide(body, headers=headers, health=ALL_UP, threshold=NO_ESCALATION)
        found.append(Outcome(decision.score if decision.scored else None, decision.tier in SOVEREIGN))
    return found


def calibrate(policy: RoutingPolicy, lines: Iterable[str], target: float | None = None) -> Calibration:
    target = policy.config.sovereignty_target if target is None else target
    bodies = [_body(line) for line in lines if line.strip()]
    sample = outcomes(policy, [b for b in bodies if b is not None])
    threshold = threshold_for(sample, target)
    if threshold is None:
        raise ValueError("no request in the sample has text to score: nothing to calibrate on")
    scored = sum(o.score is not None for o in sample)
    return Calibration(threshold, target, len(sample), scored, sum(b is None for b in bodies))


def config_path(policy: RoutingPolicy, explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    if policy.config.source is None:
        raise ValueError("no routing.yaml found to write the threshold to: pass --config")
    return policy.config.source
