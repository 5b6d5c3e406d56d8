"""The master key's admin identity is built once and copied per request: equal to a fresh one, never shared."""

from __future__ import annotations

import asyncio
import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth

from maximus.litellm_auth import master_key_auth

KEY = "sk-max-" + "Identity" * 4


@pytest.fixture(autouse=True)
def _master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAXIMUS_MASTER_KEY", KEY)


def test_each_request_gets_an_identity_equal_to_a_fresh_one() -> None:
    first = asyncio.run(master_key_auth(None, f"Bearer {KEY}"))  # type: ignore[arg-type]
    second = asyncio.run(master_key_auth(None, KEY))  # type: ignore[arg-type]
    assert first == UserAPIKeyAuth(api_key=KEY, user_role=LitellmUserRoles.PROXY_ADMIN)
    assert first is not second and first.api_key != KEY  # the key is hashed, as LiteLLM does


def test_what_one_request_adds_to_its_identity_stays_there() -> None:
    first = asyncio.run(master_key_auth(None, KEY))  # type: ignore[arg-type]
    first.metadata["request"] = "one"
    first.models.append("max-buddy")
    first.team_id = "team-one"
    second = asyncio.run(master_key_auth(None, KEY))  # type: ignore[arg-type]
    assert second.metadata == {} and second.models == [] and second.team_id is None


def test_a_wrong_key_is_still_a_401() -> None:
    with pytest.raises(ProxyException) as caught:
        asyncio.run(master_key_auth(None, KEY + "x"))  # type: ignore[arg-type]
    assert str(caught.value.code) == "401"
