"""Sovereignty tracking: LiteLLM events to a Redis stream, counted once per request, exported to Prometheus."""
