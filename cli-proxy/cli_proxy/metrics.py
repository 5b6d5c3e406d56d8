"""Prometheus metrics of the CLI proxy (counts and timings, never content)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_ACCOUNT = ["cli", "account"]
_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "cli_proxy_requests", "Chat requests by CLI, model and outcome.", ["cli", "model", "outcome"], registry=r
        )
        self.duration = Histogram(
            "cli_proxy_request_duration_seconds",
            "Whole request, queue included.",
            ["cli"],
            buckets=_SECONDS,
            registry=r,
        )
        self.first_text = Histogram(
            "cli_proxy_first_text_seconds", "CLI start to its first answer text.", ["cli"], buckets=_SECONDS, registry=r
        )
        self.queue_wait = Histogram(
            "cli_proxy_queue_wait_seconds", "Wait for a free CLI slot.", ["cli"], buckets=_SECONDS, registry=r
        )
        self.running = Gauge("cli_proxy_running_processes", "CLI processes now running.", ["cli"], registry=r)
        self.waiting = Gauge("cli_proxy_waiting_requests", "Requests queued for a slot.", ["cli"], registry=r)
        self.tokens = Counter("cli_proxy_tokens", "Tokens reported by the CLIs.", ["cli", "kind"], registry=r)
        self.cost = Counter("cli_proxy_cost_usd", "Cost reported by the CLIs (Claude).", ["cli"], registry=r)
        self.kills = Counter(
            "cli_proxy_killed_processes", "CLI process groups killed before they ended.", ["cli", "reason"], registry=r
        )
        self.warm = Counter(
            "cli_proxy_warm_pool",
            "Requests that found a warm CLI process waiting (hit) or started one cold (miss).",
            ["cli", "outcome"],
            registry=r,
        )
        self.warm_waiting = Gauge(
            "cli_proxy_warm_processes", "Warm CLI processes waiting for a request.", ["cli"], registry=r
        )
        # Per account: names the operator declared (a bounded set), states and counts; never a credential or path.
        self.account_state = Gauge(
            "cli_proxy_account_state", "1 for an account's state now (active, exhausted, login_expired), else 0.",
            [*_ACCOUNT, "state"], registry=r,
        )  # fmt: skip
        self.account_reset = Gauge(
            "cli_proxy_account_reset_seconds", "Seconds until a used-up account is tried again (else 0).",
            _ACCOUNT, registry=r,
        )  # fmt: skip
        self.account_requests = Counter(
            "cli_proxy_account_requests", "CLI runs per account by outcome (ok, usage_limit, login_expired, failed).",
            [*_ACCOUNT, "outcome"], registry=r,
        )  # fmt: skip
        self.account_rotations = Counter(
            "cli_proxy_account_rotations", "Requests moved off an account, by reason (usage_limit, login_expired).",
            ["cli", "reason"], registry=r,
        )  # fmt: skip
        self.ready = Gauge("cli_proxy_cli_ready", "1 when the CLI is installed and authenticated.", ["cli"], registry=r)
