"""The edge's answers to team keys, in process: a valid key reaches the model API only, refusals come in the
client's shape, and a key store it cannot check refuses team keys but never the master key."""

from __future__ import annotations

import pytest

from maximus import team_auth
from maximus.gateway_edge import GatewayEdge, load_settings
from maximus_kernel.team_keys import KEYS_KEY, VERSION_KEY, KeyCache, KeyStore
from tests.gateway.test_edge_units import Recorder, call

MASTER = "sk-" + "edge" * 6


class FakeRedis:
    """The few commands the store and the cache use, on dicts."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[str, str]] = {}
        self.version = 0

    def hsetnx(self, key: str, field: str, value: str) -> bool:
        return self.hashes.setdefault(key, {}).setdefault(field, value) == value

    def hset(self, key: str, field: str, value: str) -> None:
        self.hashes.setdefault(key, {})[field] = value

    def hget(self, key: str, field: str) -> str | None:
        return self.hashes.get(key, {}).get(field)

    def hdel(self, key: str, field: str) -> None:
        self.hashes.get(key, {}).pop(field, None)

    def hgetall(self, key: str) -> dict[str, str]:
        return dict(self.hashes.get(key, {}))

    def incr(self, key: str) -> None:
        assert key == VERSION_KEY
        self.version += 1

    def get(self, key: str) -> bytes:
        return str(self.version).encode()

    def pipeline(self, transaction: bool = True) -> FakeRedis:
        return self

    def execute(self) -> None:
        return None


@pytest.fixture
def edge(monkeypatch: pytest.MonkeyPatch) -> tuple[GatewayEdge, str, KeyCache]:
    fake, cache = FakeRedis(), KeyCache("unused", max_staleness_s=3600)
    key = KeyStore(fake).create("alice")
    cache.refresh(fake)
    assert KEYS_KEY in fake.hashes
    monkeypatch.setattr(team_auth, "key_cache", lambda: cache)
    return GatewayEdge(Recorder(), load_settings(env={}), master_key=MASTER), key, cache


def test_a_team_key_reaches_the_model_api_only(edge: tuple[GatewayEdge, str, KeyCache]) -> None:
    gateway, key, _ = edge
    auth = {"authorization": f"Bearer {key}"}
    assert call(gateway, "GET", "/v1/models", headers=auth)[0] == 200
    assert call(gateway, "POST", "/v1/messages", b"{}", {"x-api-key": key})[0] == 200
    status, body = call(gateway, "POST", "/key/generate", b"{}", auth)
    assert status == 403 and body["error"]["code"] == "admin_only"
    assert call(gateway, "POST", "/key/generate", b"{}", {"authorization": f"Bearer {MASTER}"})[0] == 200


def test_refusals_come_in_the_clients_shape(edge: tuple[GatewayEdge, str, KeyCache]) -> None:
    gateway, key, _ = edge
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    status, body = call(gateway, "POST", "/v1/messages", b"{}", {"x-api-key": wrong})
    assert status == 401 and body["type"] == "error" and body["error"]["type"] == "authentication_error"
    status, body = call(gateway, "POST", "/v1/chat/completions", b"{}", {"authorization": f"Bearer {wrong}"})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_an_unchecked_key_store_refuses_team_keys_not_the_master_key(edge: tuple[GatewayEdge, str, KeyCache]) -> None:
    gateway, key, cache = edge
    cache.max_staleness_s = -1.0  # every copy is too old: Redis away
    status, body = call(gateway, "GET", "/v1/models", headers={"authorization": f"Bearer {key}"})
    assert status == 503 and "team keys unavailable" in body["error"]["message"]
    assert call(gateway, "GET", "/v1/models", headers={"authorization": f"Bearer {MASTER}"})[0] == 200
