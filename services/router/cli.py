"""`maximus route`: request bodies in (one JSON object a line, or development-set case objects), decisions out
(`{"tier", "model", "reasons", "score"}` a line, same order; score: the need model's estimate, null without
text). Same policy code and routing.yaml as the live hook; needs no running service (budget, health and the
adapter of `maximus route learn` come from Redis when it answers, else they are "unknown"/"up"/none)."""

from __future__ import annotations

import io
import json
import sys
from typing import Any, TextIO

from router.adapter import Adapter, load
from router.budget import SpendReader
from router.health import RedisTierHealth
from router.policy import RoutingPolicy, default_policy
from router.request import MalformedRequest, check_request


def _request_of(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and isinstance(value.get("request"), dict):
        return value["request"]  # a development-set case
    return value if isinstance(value, dict) else None


def _local(policy: RoutingPolicy, reason: str) -> dict[str, Any]:
    """The line for an input the router cannot route: local (the safe default), with the reason."""
    return {"tier": "local", "model": policy.config.tiers["local"].model, "reasons": [reason], "score": None}


def route_line(policy: RoutingPolicy, line: str, spend: SpendReader, health: RedisTierHealth) -> dict[str, Any]:
    try:
        request = _request_of(json.loads(line))
    except (json.JSONDecodeError, RecursionError):
        request = None
    if request is None:
        return _local(policy, "invalid input line (not a JSON object): default local")
    try:
        # A body without prompt or input is a chat request: it needs messages, as the live gateway says (400).
        check_request(request, chat="prompt" not in request and "input" not in request)
    except MalformedRequest as exc:
        return _local(policy, f"invalid request ({exc.message}): default local")
    headers = request.get("headers") if isinstance(request.get("headers"), dict) else None
    return policy.decide(request, headers=headers, budget=spend.read(), health=health.read()).as_output()


def stored_adapter(policy: RoutingPolicy) -> Adapter | None:
    """The adapter `maximus route learn` stored, read once at start; none while Redis does not answer."""
    import redis

    from router.labels import redis_url

    timeout = policy.config.learning.timeout_s
    try:
        client = redis.Redis.from_url(redis_url(policy.config), socket_timeout=timeout, socket_connect_timeout=timeout)
        return load(client, policy.config.learning)
    except (redis.RedisError, OSError):
        return None


def route_stream(stdin: TextIO, stdout: TextIO) -> int:
    """One output line per non-blank input line, whatever the line holds; always exits 0."""
    if isinstance(stdin, io.TextIOWrapper):
        stdin.reconfigure(errors="replace")  # bytes that are not UTF-8 become U+FFFD, not a crash
    policy = default_policy()
    policy.adapter = stored_adapter(policy)
    spend = SpendReader(policy.config.budget)
    health = RedisTierHealth(policy.config.health, ("power", "creative", "vision"), policy.config.budget.redis_url_envs)
    for line in stdin:
        if line.strip():
            try:
                result = route_line(policy, line, spend, health)
            except Exception as exc:  # one bad line never drops the lines after it
                result = _local(
                    policy, f"invalid input line (could not be routed: {type(exc).__name__}): default local"
                )
            # ASCII JSON: lone surrogates ("\ud800") and other unencodable text stay escaped, never a crash.
            stdout.write(json.dumps(result) + "\n")
            stdout.flush()
    return 0


def main() -> None:
    sys.exit(route_stream(sys.stdin, sys.stdout))


if __name__ == "__main__":
    main()
