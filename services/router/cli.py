"""`maximus route`: request bodies in (one JSON object a line, or development-set case objects), decisions out
(`{"tier", "model", "reasons"}` a line, same order). Same policy code and routing.yaml as the live hook; needs no
running service (budget and health come from Redis when it answers, else they are "unknown"/"up")."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from router.budget import SpendReader
from router.health import RedisTierHealth
from router.policy import RoutingPolicy, default_policy


def _request_of(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and isinstance(value.get("request"), dict):
        return value["request"]  # a development-set case
    return value if isinstance(value, dict) else None


def route_line(policy: RoutingPolicy, line: str, spend: SpendReader, health: RedisTierHealth) -> dict[str, Any]:
    try:
        request = _request_of(json.loads(line))
    except json.JSONDecodeError:
        request = None
    if request is None:
        return {
            "tier": "local",
            "model": policy.config.tiers["local"].model,
            "reasons": ["invalid input line (not a JSON object): default local"],
        }
    headers = request.get("headers") if isinstance(request.get("headers"), dict) else None
    return policy.decide(request, headers=headers, budget=spend.read(), health=health.read()).as_output()


def route_stream(stdin: TextIO, stdout: TextIO) -> int:
    policy = default_policy()
    spend = SpendReader(policy.config.budget)
    health = RedisTierHealth(policy.config.health, ("power", "creative", "vision"), policy.config.budget.redis_url_env)
    for line in stdin:
        if line.strip():
            stdout.write(json.dumps(route_line(policy, line, spend, health), ensure_ascii=False) + "\n")
            stdout.flush()
    return 0


def main() -> None:
    sys.exit(route_stream(sys.stdin, sys.stdout))


if __name__ == "__main__":
    main()
