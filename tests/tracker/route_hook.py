"""Test stand-in for the routing hook's metadata: copies `maximus_test_route` from the request body into the
metadata keys the real router sets (maximus_tier, maximus_route_reasons, maximus_privacy_kinds)."""

from __future__ import annotations

from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class TestRouteMetadata(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        route = data.pop("maximus_test_route", None) or {}
        metadata = data.setdefault("metadata", {})
        metadata["maximus_tier"] = route.get("tier")
        metadata["maximus_route_reasons"] = route.get("reasons", ["default"])
        metadata["maximus_privacy_kinds"] = route.get("privacy", [])
        return data


hook = TestRouteMetadata()
