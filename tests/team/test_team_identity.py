"""A team key's LiteLLM identity: an internal user named after the key, never an admin, never shared between
requests, and never carrying the key itself."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.proxy._types import LitellmUserRoles

from maximus.litellm_auth import team_identity
from maximus_kernel.team_keys import KeyRecord
from router.people import person_of

RECORD = KeyRecord("alice", "00" * 16, "ab" * 32, 2.5, ("local", "power"), 0.0)


def test_a_team_identity_is_a_named_internal_user_with_its_limits() -> None:
    identity = team_identity(RECORD)
    assert identity.user_role == LitellmUserRoles.INTERNAL_USER and identity.user_id == "alice"
    assert person_of(identity) == ("alice", 2.5, ("local", "power"))


def test_what_one_request_adds_to_a_team_identity_stays_there() -> None:
    first = team_identity(RECORD)
    first.metadata["added"] = "by one request"
    second = team_identity(RECORD)
    assert "added" not in second.metadata and person_of(second)[0] == "alice"
