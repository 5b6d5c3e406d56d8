"""Prometheus metrics of the vision service (counts and timings, never content)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ENDPOINTS = ("embeddings", "classify", "chat")
INPUT_KINDS = ("image", "frames", "video")
OUTCOMES = ("ok", "client_error", "unavailable", "error")


class VisionMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vision_requests_total",
            "Requests by endpoint and outcome.",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.inputs = Counter("vision_inputs_total", "Inputs processed by kind.", ["kind"], registry=self.registry)
        self.batch_size = Histogram(
            "vision_batch_size", "Clips per model batch.", buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry
        )
        self.batch_seconds = Histogram(
            "vision_batch_seconds",
            "Model time per batch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.queue_depth = Gauge("vision_queue_depth", "Inputs waiting for the model.", registry=self.registry)
        self.ready = Gauge("vision_model_ready", "1 when the model is loaded and warmed up.", registry=self.registry)
        # Every known label combination exists from the start, so rate() sees the first event.
        for endpoint in ENDPOINTS:
            for outcome in OUTCOMES:
                self.requests.labels(endpoint, outcome)
        for kind in INPUT_KINDS:
            self.inputs.labels(kind)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    @staticmethod
    def outcome(status: int) -> str:
        if status < 400:
            return "ok"
        if status == 503:
            return "unavailable"
        return "client_error" if status < 500 else "error"
