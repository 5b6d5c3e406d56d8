"""LiteLLM custom auth: the master key (admin) and team keys (maximus.team_auth); any other key is a 401.

A team key's identity carries the person's name as user_id (the tracker counts per name; LiteLLM strips
user_api_key_* fields a client sends, so the name cannot be forged) and its budget and tiers in metadata (the
routing hook applies them: router.people).

Without a database LiteLLM answers a wrong key with 400 "No connected db." (see docs/reference/litellm.md);
clients and their retry logic expect 401 for a bad credential.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth

from maximus import team_auth
from maximus_kernel.team_keys import KeyRecord
from router.people import BUDGET_META, PERSON_META, TIERS_META


async def master_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    given = (api_key or "").removeprefix("Bearer ").strip()
    caller = team_auth.identify(given)
    if caller.admin:
        return admin_identity(given)
    if caller.record is not None:
        return team_identity(caller.record)
    # A ProxyException keeps its status; any other exception sends LiteLLM through database checks.
    if caller.unavailable:
        raise ProxyException(team_auth.unavailable_message(), "service_unavailable", "api_key", 503)
    raise ProxyException(
        message="Invalid API key: use the MAXIMUS_MASTER_KEY from your .env file or your team key.",
        type=ProxyErrorTypes.auth_error,
        param="api_key",
        code=401,
    )


def team_identity(record: KeyRecord) -> UserAPIKeyAuth:
    """A person: an internal user (never an admin), named, with the budget and tiers of the key."""
    return _copy(_team_template(record))


@lru_cache(maxsize=256)
def _team_template(record: KeyRecord) -> UserAPIKeyAuth:
    metadata = {PERSON_META: record.name, BUDGET_META: record.budget_usd, TIERS_META: record.tiers}
    return UserAPIKeyAuth(
        api_key=record.hash,
        user_id=record.name,
        key_alias=record.name,
        user_role=LitellmUserRoles.INTERNAL_USER,
        metadata=metadata,
    )


@lru_cache(maxsize=2)
def _template(api_key: str) -> UserAPIKeyAuth:
    return UserAPIKeyAuth(api_key=api_key, user_role=LitellmUserRoles.PROXY_ADMIN)


def admin_identity(api_key: str) -> UserAPIKeyAuth:
    """The admin identity for the master key: validated (and the key hashed) once, copied per request (about
    20 us instead of 100 us)."""
    return _copy(_template(api_key))


def _copy(template: UserAPIKeyAuth) -> UserAPIKeyAuth:
    """A copy with its own containers (holding the template's items), so that what the proxy adds to one
    request stays there."""
    fresh = {
        name: type(value)(value) for name, value in template.__dict__.items() if isinstance(value, dict | list | set)
    }
    return template.model_copy(update=fresh)
