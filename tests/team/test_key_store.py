"""The key store on a real redis-server: hashed only, one key per name, rotate and revoke; the gateway's cache
refuses a revoked key after its next check and every team key once it cannot check (fails closed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from maximus_kernel.team_keys import KeyCache, KeyRefused, KeyStore, check_tiers
from tests.tracker.conftest import RedisProcess


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    yield redis.Redis.from_url(server.url)
    server.stop()


def test_a_key_is_stored_as_a_salted_hash_and_never_in_clear(client: redis.Redis) -> None:
    store = KeyStore(client)
    key = store.create("alice", 5.0, ["power"])
    secret = key.split("_", 2)[2]
    dump = b"".join(client.dump(name) or b"" for name in client.keys("*"))
    assert key.encode() not in dump and secret.encode() not in dump
    [record] = store.list()
    assert record.public() | {"created_at": 0} == {
        "name": "alice",
        "budget_usd": 5.0,
        "tiers": ("local", "power"),
        "created_at": 0,
    }
    assert record.matches(secret) and not record.matches(secret[:-1] + "x")


def test_the_cache_follows_create_rotate_and_revoke(client: redis.Redis) -> None:
    store, cache = KeyStore(client), KeyCache("unused")
    key = store.create("bob")
    cache.refresh(client)
    assert cache.check(key).record.name == "bob"
    new = store.rotate("bob")
    cache.refresh(client)
    assert cache.check(key).record is None and cache.check(new).record.name == "bob"
    store.revoke("bob")
    cache.refresh(client)
    assert cache.check(new).record is None and not cache.check(new).unavailable


def test_a_cache_that_cannot_check_refuses_team_keys(client: redis.Redis) -> None:
    store, cache = KeyStore(client), KeyCache("unused", max_staleness_s=0.05)
    key = store.create("carol")
    assert cache.check(key).unavailable  # never read yet
    cache.refresh(client)
    assert cache.check(key).record is not None
    time.sleep(0.1)  # no check since: it could have missed a revocation
    assert cache.check(key).unavailable


def test_names_and_tiers_are_checked(client: redis.Redis) -> None:
    store = KeyStore(client)
    store.create("dave")
    for bad in ("Dave", "", "a" * 33, "dave|x", "admin", "other", "-x"):
        with pytest.raises(KeyRefused):
            store.create(bad)
    with pytest.raises(KeyRefused, match="exists"):
        store.create("dave")
    with pytest.raises(KeyRefused, match="invalid budget"):
        store.create("erin", float("inf"))
    assert check_tiers(["power,creative"]) == ("local", "power", "creative")
    with pytest.raises(KeyRefused):
        check_tiers(["gold"])
