"""Routing policy: which tier answers a request. No LiteLLM import here except in litellm_hook."""
