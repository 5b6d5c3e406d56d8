"""LiteLLM pre-call hook: turns the virtual model max-auto into a tier's model group.

Minimal first version (foundation): max-auto goes to the default local group.
"""

from __future__ import annotations

from typing import Any

from litellm.integrations.custom_logger import CustomLogger

VIRTUAL_MODEL = "max-auto"
DEFAULT_LOCAL_GROUP = "max-buddy"


class RoutingHook(CustomLogger):
    # The proxy only calls hooks defined on the registered object's own class (see shared/reference/litellm.md).
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> dict:
        if data.get("model") == VIRTUAL_MODEL:
            data["model"] = DEFAULT_LOCAL_GROUP
        return data


proxy_hook = RoutingHook()
